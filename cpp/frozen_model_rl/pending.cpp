#include "frozen_model_rl/pending.hpp"

#include <stdexcept>
#include <string>

#include "common/errors.hpp"
#include "frozen_model_rl/policy.hpp"

namespace si::bandit {

void PendingTable::require_pending(std::uint64_t id, std::uint64_t next_id, std::uint64_t ttl) const {
  if (contains(id)) return;
  if (id >= next_id)
    throw UnknownId("bandit: decision id " + std::to_string(id) + " was never issued (next id is " +
                    std::to_string(next_id) + ")");
  if (rewarded_s_.count(id))
    throw std::invalid_argument("bandit: decision id " + std::to_string(id) +
                                " already received its reward (duplicate update)");
  if (expired_s_.count(id))
    throw UnknownId("bandit: decision id " + std::to_string(id) + " expired (time-to-live " +
                    std::to_string(ttl) + " rounds, or evicted from a full pending table)");
  throw UnknownId("bandit: decision id " + std::to_string(id) +
                  " is not pending (rewarded or expired long ago, or decided with track=False)");
}

Pending PendingTable::take_rewarded(std::uint64_t id) {
  auto it = pending_.find(id);
  Pending p = std::move(it->second);
  pending_.erase(it);
  remember(rewarded_q_, rewarded_s_, id);
  return p;
}

Pending PendingTable::take_oldest_expired() {
  auto it = pending_.begin();
  const std::uint64_t id = it->first;
  Pending p = std::move(it->second);
  pending_.erase(it);
  remember(expired_q_, expired_s_, id);
  return p;
}

std::vector<std::uint64_t> PendingTable::ids() const {
  std::vector<std::uint64_t> out;
  out.reserve(pending_.size());
  for (const auto& kv : pending_) out.push_back(kv.first);
  return out;
}

void PendingTable::clear() {
  pending_.clear();
  rewarded_q_.clear();
  expired_q_.clear();
  rewarded_s_.clear();
  expired_s_.clear();
}

void PendingTable::remember(std::deque<std::uint64_t>& q, std::unordered_set<std::uint64_t>& s,
                            std::uint64_t id) {
  q.push_back(id);
  s.insert(id);
  while (q.size() > kRecentIds) {
    s.erase(q.front());
    q.pop_front();
  }
}

void PendingTable::write(ByteWriter& w) const {
  w.put<std::uint64_t>(pending_.size());
  for (const auto& kv : pending_) {
    w.put<std::uint64_t>(kv.first);
    w.put<std::uint32_t>(kv.second.arm);
    w.put<std::uint64_t>(kv.second.time);
    w.put<double>(kv.second.propensity);
    w.put<std::uint8_t>(kv.second.in_design ? 1 : 0);
    w.put<double>(kv.second.imputed);
    w.vec(kv.second.x);
  }
  w.put<std::uint64_t>(rewarded_q_.size());
  for (auto id : rewarded_q_) w.put<std::uint64_t>(id);
  w.put<std::uint64_t>(expired_q_.size());
  for (auto id : expired_q_) w.put<std::uint64_t>(id);
}

void PendingTable::read(ByteReader& r, std::size_t dim,
                        const std::function<void(std::uint64_t, const Pending&)>& check) {
  const auto np = r.get<std::uint64_t>();
  if (np > r.position() + r.remaining()) throw CorruptFile("bandit state: bad pending count");
  for (std::uint64_t i = 0; i < np; ++i) {
    const auto id = r.get<std::uint64_t>();
    Pending p;
    p.arm = r.get<std::uint32_t>();
    p.time = r.get<std::uint64_t>();
    p.propensity = r.get<double>();
    p.in_design = r.get<std::uint8_t>() != 0;
    p.imputed = r.get<double>();
    p.x = read_doubles(r, dim, "pending x");
    check(id, p);
    pending_.emplace(id, std::move(p));
  }
  read_ids(r, rewarded_q_, rewarded_s_);
  read_ids(r, expired_q_, expired_s_);
}

void PendingTable::read_ids(ByteReader& r, std::deque<std::uint64_t>& q, std::unordered_set<std::uint64_t>& s) {
  const auto n = r.get<std::uint64_t>();
  if (n > kRecentIds) throw CorruptFile("bandit state: bad id history");
  for (std::uint64_t i = 0; i < n; ++i) remember(q, s, r.get<std::uint64_t>());
}

}  // namespace si::bandit
