"""The search benchmark's ratio table, on a recorded result (no timing here)."""

from superinstance.vector_navigator.bench import ratio_table


def test_ratio_table_reports_peer_over_ours():
    out = {
        "flat": {"n": 100, "dim": 8, "batch": 10, "threads": 2, "mem_read_GBps_numpy_sum": 10.0,
                 "single": {"superinstance": {"p50_ms": 2.0, "scan_GBps": 8.0}, "faiss_IndexFlatIP": {"p50_ms": 3.0}},
                 "batch_qps": {"superinstance": {"qps": 500.0},
                               "faiss_IndexFlatIP": {"qps": 1000.0, "ratio_per_round_median": 0.6}}},
        "hnsw": {"n": 100, "threads": 1, "libs": {
            "superinstance": {"build_vps": 100.0, "sweep": [{"ef": 16, "recall": 0.9, "p50_ms": 0.1},
                                                             {"ef": 32, "recall": 0.96, "p50_ms": 0.2}]},
            "hnswlib": {"build_vps": 200.0, "sweep": [{"ef": 16, "recall": 0.97, "p50_ms": 0.1}]},
            "usearch": {"unavailable": "ModuleNotFoundError"}}},
    }
    table = ratio_table(out)
    assert "| faiss_IndexFlatIP | 3.000 ms | 2.000 ms | 1.50x |" in table
    assert "| faiss_IndexFlatIP | 1000 QPS | 500 QPS | 0.50x |" in table
    assert "median of per-round ratios | faiss_IndexFlatIP | | | 0.60x |" in table
    assert "numpy sum on 2 thread(s) | 10.0 GB/s | 8.0 GB/s | 0.80 |" in table
    assert "0.100 ms (ef 16, recall 0.970) | 0.200 ms (ef 32, recall 0.960) | 0.50x" in table
    assert "| hnswlib | 200 vec/s | 100 vec/s | 0.50x |" in table
    assert "usearch | skipped" in table
