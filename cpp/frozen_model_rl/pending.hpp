// The pending-decision table of a bandit: tracked decisions waiting for their
// reward (keyed by decision id, oldest first), and the recently rewarded and
// expired ids, remembered so that a late or repeated update gets an error that
// says what happened. What a reward or an expiry does to the model is the
// Bandit's business (bandit.cpp); this is the bookkeeping and its saved form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/byte_io.hpp"

namespace si::bandit {

struct Pending {
  std::uint32_t arm = 0;
  std::uint64_t time = 0;  // round of the decision
  double propensity = 1.0;
  bool in_design = false;  // x is already in the model with reward `imputed`
  double imputed = 0.0;
  std::vector<double> x;
};

class PendingTable {
 public:
  static constexpr std::size_t kRecentIds = 65536;  // remembered rewarded / expired ids

  std::size_t size() const { return pending_.size(); }
  bool empty() const { return pending_.empty(); }
  bool contains(std::uint64_t id) const { return pending_.count(id) > 0; }
  // Decision ids grow, so a new one goes to the end.
  void add(std::uint64_t id, Pending p) { pending_.emplace_hint(pending_.end(), id, std::move(p)); }
  const Pending& oldest() const { return pending_.begin()->second; }

  // Throws the error that says why id is not pending: si::UnknownId (never
  // issued, expired or evicted, forgotten) or std::invalid_argument (already
  // rewarded). next_id and ttl only shape the message.
  void require_pending(std::uint64_t id, std::uint64_t next_id, std::uint64_t ttl) const;
  // Removes a pending decision whose reward arrived, remembering its id.
  Pending take_rewarded(std::uint64_t id);
  // Removes the oldest pending decision (expired or evicted), remembering its id.
  Pending take_oldest_expired();

  std::vector<std::uint64_t> ids() const;
  void clear();

  void write(ByteWriter& w) const;
  // Reads what write wrote (dim values per context); check(id, p) throws
  // CorruptFile for a decision the state cannot hold.
  void read(ByteReader& r, std::size_t dim, const std::function<void(std::uint64_t, const Pending&)>& check);

 private:
  static void remember(std::deque<std::uint64_t>& q, std::unordered_set<std::uint64_t>& s, std::uint64_t id);
  static void read_ids(ByteReader& r, std::deque<std::uint64_t>& q, std::unordered_set<std::uint64_t>& s);

  std::map<std::uint64_t, Pending> pending_;
  std::deque<std::uint64_t> rewarded_q_, expired_q_;
  std::unordered_set<std::uint64_t> rewarded_s_, expired_s_;
};

}  // namespace si::bandit
