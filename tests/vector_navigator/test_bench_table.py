"""The search benchmark's tables, on a recorded result (no timing judged here), and tiny
live runs of the filter-floor and filter-plan comparisons."""

from superinstance.bench.vector_navigator import flat_table, hnsw_table, payload_table, ratio_table

OUT = {
    "flat": {"n": 100, "dim": 8, "k": 10, "batch": 10, "threads": 2, "mem_read_GBps_numpy_sum": 10.0,
             "single": {"superinstance": {"p50_ms": 2.0, "p95_ms": 2.5, "p99_ms": 3.0, "scan_GBps": 8.0},
                        "faiss_IndexFlatIP": {"p50_ms": 3.0, "p95_ms": 3.5, "p99_ms": 4.0}},
             "batch_qps": {"superinstance": {"qps": 500.0},
                           "faiss_IndexFlatIP": {"qps": 1000.0, "ratio_per_round_median": 0.6}}},
    "hnsw": {"n": 100, "dim": 8, "M": 16, "ef_construction": 100, "k": 10, "threads": 1, "libs": {
        "superinstance": {"build_s": 1.0, "build_vps": 100.0,
                          "sweep": [{"ef": 16, "recall": 0.9, "p50_ms": 0.1, "p99_ms": 0.3},
                                    {"ef": 32, "recall": 0.96, "p50_ms": 0.2, "p99_ms": 0.4}]},
        "hnswlib": {"build_s": 0.5, "build_vps": 200.0, "sweep": [{"ef": 16, "recall": 0.97, "p50_ms": 0.1,
                                                                    "p99_ms": 0.2}]},
        "usearch": {"unavailable": "ModuleNotFoundError"}}},
}


def test_ratio_table_says_what_every_ratio_compares():
    table = ratio_table(OUT)
    assert "| faiss_IndexFlatIP | 3.000 ms | 2.000 ms | 1.50x | peer time / ours (>1: ours faster) |" in table
    assert "| faiss_IndexFlatIP | 1000 QPS | 500 QPS | 0.50x | ours QPS / peer QPS (>1: ours faster) |" in table
    assert "median of per-round ratios | faiss_IndexFlatIP | | | 0.60x | peer time / ours" in table
    assert "numpy sum on 2 thread(s) | 10.0 GB/s | 8.0 GB/s | 0.80 | of memory bandwidth" in table
    assert "0.100 ms (ef 16, recall 0.970) | 0.200 ms (ef 32, recall 0.960) | 0.50x | peer time / ours" in table
    assert "| hnswlib | 200 vec/s | 100 vec/s | 0.50x | ours build rate / peer build rate" in table
    assert "usearch | skipped" in table
    header, _, *rows = table.splitlines()
    assert header.split("|")[-2].strip() == "ratio is"
    for row in rows:  # a ratio in the ratio column comes with its label
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert len(cells) == 6 and (not cells[4] or cells[5]), row


def test_result_tables_are_markdown_rows_only():
    for table in (flat_table(OUT["flat"]), hnsw_table(OUT["hnsw"])):
        lines = table.splitlines()
        assert lines[0].startswith("# ") and all(ln.startswith("|") for ln in lines[1:]), table
    assert "| superinstance | 2.000 | 2.500 | 3.000 | 500 |" in flat_table(OUT["flat"])
    assert "| hnswlib | 0.5 | 16 | 0.970 | 0.100 | 0.200 |" in hnsw_table(OUT["hnsw"])
    payload = {"n": 10, "dim": 4, "k": 2, "threads": 1,
               "plain": {"p50_ms": 1.0, "p99_ms": 2.0, "ratio_to_plain": 1.0, "vector_bytes": 160},
               "i8": {"p50_ms": 0.5, "p99_ms": 1.0, "ratio_to_plain": 0.5, "recall_at_k_vs_f32": 0.9,
                      "vector_bytes": 80}}
    assert "| i8 | 0.500 | 1.000 | 0.50x | 0.900 | 80 |" in payload_table(payload)


def _case(labels, p, ours_ms, unfiltered_ms, recall):
    return {"labels": labels, "pass": p, "passing_rows": 10, "plan": "scan", "unfiltered_p50_ms": unfiltered_ms,
            "unfiltered_p99_ms": 3 * unfiltered_ms,
            "libs": {"superinstance": {"recall": recall, "p50_ms": ours_ms, "p95_ms": 1, "p99_ms": 1},
                     "faiss": {"recall": 0.5, "p50_ms": 0.2, "p95_ms": 1, "p99_ms": 1}}}


def test_filtered_table_and_summary_judge_the_goals():
    from superinstance.bench.vector_navigator import filtered_table, summary

    r = {"n": 100, "dim": 8, "k": 10, "M": 16, "ef_construction": 100, "ef": 64, "nq": 5,
         "cases": [_case("random", 0.01, 0.05, 0.1, 1.0), _case("anti-correlated", 0.01, 0.2, 0.1, 0.9),
                   _case("random", 0.5, 0.14, 0.1, 0.99)]}
    table = filtered_table(r)
    assert "| random | 1.0% | scan | 1.000 | 0.050 | 0.500 | 0.200 | 0.100 | 0.50x (<= 1.0x, recall >= 0.95: met) | 1.000 | 0.300 |" in table
    assert "2.00x (<= 1.0x, recall >= 0.95: NOT met)" in table  # too slow and recall 0.9
    assert "1.40x (<= 1.5x, recall >= 0.95: met)" in table
    rows = summary({"filtered": r})
    assert [x["case"] for x in rows] == ["filtered 1.0% pass, 100 x 8: worst recall@10 / P50",
                                         "filtered 50.0% pass, 100 x 8: worst recall@10 / P50"]
    assert rows[0]["ours"].startswith("0.900 / 0.200 ms (2.00x unfiltered)")
    assert rows[0]["ratio"] == 1.0  # faiss 0.2 ms / ours 0.2 ms on the worst case


def test_filter_floor_compares_the_walk_with_a_graph_over_only_the_passing_rows():
    from superinstance.bench.vector_navigator import filter_floor_table, run_filter_floor

    r = run_filter_floor(3000, 16, 10, 12, 8, 64, 32, efs=[8, 200], cases=[("anti-correlated", 0.5)], block=4)
    (case,) = r["cases"]
    assert case["passing_rows"] > 1000 and [w["ef"] for w in case["walk"]] == [8, 200]
    # At ef 200 over ~1,500 passing rows both graphs find (nearly) the exact answer: the
    # passing-only index holds the passing rows under their own ids, so it is measured on the same truth.
    assert case["walk"][1]["recall"] >= 0.95 and case["passing_only"][1]["recall"] >= 0.95
    assert all(v["ratio"] > 0 for v in case["walk"] + case["passing_only"])
    table = filter_floor_table(r).splitlines()
    assert len(table) == 3 + 2 and table[3].startswith("| anti-correlated | 50% | 8 |")


def test_filter_plans_compares_the_planned_search_with_the_exact_scan():
    from superinstance.bench.vector_navigator import filter_plans_table, run_filter_plans

    r = run_filter_plans(3000, 16, 10, 12, 8, 64, efs=[10], passes=(0.02, 0.3), modes=("random",), block=4)
    plans = {c["pass"]: c for c in r["cases"]}
    assert plans[0.02]["plan"] == "scan" and plans[0.02]["recall"] == 1.0  # the scan is exact
    assert plans[0.3]["plan"] == "walk" and plans[0.3]["recall"] >= 0.8
    assert all(c["planned_ratio"] > 0 and c["scan_ratio"] > 0 for c in r["cases"])
    assert "| random | 30.0% | 10 | walk |" in filter_plans_table(r)
