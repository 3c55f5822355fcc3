// The saved state of a Bandit (format version 2; version 1 files still load):
//   config   algo, n_arms, dim, alpha, lam, epsilon, gamma, window, seed,
//            reinvert_every, ts_propensity_draws, pending_in_design,
//            arm_feature_dim, arm_features, max_pending, ttl, has_default_reward,
//            default_reward; version 2: clock, idle_gamma, max_age
//   counters t, next_id, rounds, updates, expired, expired_default, evicted,
//            reinversions, the generator's four words
//   model    the policy's section (Policy::write: per-arm models, shared part,
//            window entries)
//   pending  the pending table and the remembered ids (PendingTable::write)
// Scalars little-endian, vectors as a u64 length and float64 values
// (common/byte_io.hpp); the atomic file layer adds header, version and CRC.
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/atomic_file.hpp"
#include "common/byte_io.hpp"
#include "common/errors.hpp"
#include "frozen_model_rl/bandit.hpp"
#include "frozen_model_rl/policy.hpp"

namespace si::bandit {

namespace {

void write_config(ByteWriter& w, const Config& c) {
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.algo));
  w.put<std::uint32_t>(c.n_arms);
  w.put<std::uint32_t>(c.dim);
  w.put<double>(c.alpha);
  w.put<double>(c.lam);
  w.put<double>(c.epsilon);
  w.put<double>(c.gamma);
  w.put<std::uint64_t>(c.window);
  w.put<std::uint64_t>(c.seed);
  w.put<std::uint32_t>(c.reinvert_every);
  w.put<std::uint32_t>(c.ts_propensity_draws);
  w.put<std::uint8_t>(c.pending_in_design ? 1 : 0);
  w.put<std::uint32_t>(c.arm_feature_dim);
  w.vec(c.arm_features);
  w.put<std::uint64_t>(c.max_pending);
  w.put<std::uint64_t>(c.ttl);
  w.put<std::uint8_t>(c.has_default_reward ? 1 : 0);
  w.put<double>(c.default_reward);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(c.clock));  // version 2
  w.put<double>(c.idle_gamma);
  w.put<std::uint64_t>(c.max_age);
}

Config read_config(ByteReader& r, std::uint32_t version) {
  Config c;
  c.algo = static_cast<Algo>(r.get<std::uint32_t>());
  c.n_arms = r.get<std::uint32_t>();
  c.dim = r.get<std::uint32_t>();
  c.alpha = r.get<double>();
  c.lam = r.get<double>();
  c.epsilon = r.get<double>();
  c.gamma = r.get<double>();
  c.window = r.get<std::uint64_t>();
  c.seed = r.get<std::uint64_t>();
  c.reinvert_every = r.get<std::uint32_t>();
  c.ts_propensity_draws = r.get<std::uint32_t>();
  c.pending_in_design = r.get<std::uint8_t>() != 0;
  c.arm_feature_dim = r.get<std::uint32_t>();
  c.arm_features = read_doubles(r, SIZE_MAX, "arm_features");
  c.max_pending = r.get<std::uint64_t>();
  c.ttl = r.get<std::uint64_t>();
  c.has_default_reward = r.get<std::uint8_t>() != 0;
  c.default_reward = r.get<double>();
  if (version >= 2) {  // version 1 had only the round clock
    c.clock = static_cast<Clock>(r.get<std::uint32_t>());
    c.idle_gamma = r.get<double>();
    c.max_age = r.get<std::uint64_t>();
  }
  try {
    c.validate();  // the constructor's caps, before anything is allocated
  } catch (const std::invalid_argument& e) {
    throw CorruptFile(std::string("bandit state: invalid configuration: ") + e.what());
  }
  return c;
}

// A forged header must not make the loader allocate more than the payload
// could hold: every arm stores its matrices (d x d doubles each) in the file.
void check_payload_holds_models(const Config& c, std::size_t remaining) {
  const double need = policy_type(c.algo).min_state_bytes(c);
  if (need > static_cast<double>(remaining))
    throw CorruptFile("bandit state: the configuration (n_arms = " + std::to_string(c.n_arms) +
                      ", dim = " + std::to_string(c.dim) + ") needs at least " + num(need) +
                      " bytes of model state, the payload has " + std::to_string(remaining));
}

}  // namespace

std::vector<unsigned char> Bandit::serialize() const {
  std::lock_guard<std::mutex> lk(mu_);
  ByteWriter w;
  write_config(w, config());
  w.put<std::uint64_t>(t_);
  w.put<std::uint64_t>(next_id_);
  w.put<std::uint64_t>(stats_.rounds);
  w.put<std::uint64_t>(stats_.updates);
  w.put<std::uint64_t>(stats_.expired);
  w.put<std::uint64_t>(stats_.expired_default);
  w.put<std::uint64_t>(stats_.evicted);
  w.put<std::uint64_t>(policy_->reinversions());
  for (auto s : rng_.s) w.put<std::uint64_t>(s);
  policy_->write(w);
  pending_.write(w);
  return w.take();
}

std::unique_ptr<Bandit> Bandit::deserialize(const unsigned char* data, std::size_t n,
                                            std::uint32_t version) {
  if (version < 1 || version > kFormatVersion)
    throw UnsupportedVersion("bandit state: format version " + std::to_string(version) +
                             " (this build reads 1 to " + std::to_string(kFormatVersion) + ")");
  ByteReader rd(data, n, "bandit state: truncated payload");
  const Config c = read_config(rd, version);
  check_payload_holds_models(c, rd.remaining());
  auto b = std::make_unique<Bandit>(c);
  b->t_ = rd.get<std::uint64_t>();
  b->next_id_ = rd.get<std::uint64_t>();
  b->stats_.rounds = rd.get<std::uint64_t>();
  b->stats_.updates = rd.get<std::uint64_t>();
  b->stats_.expired = rd.get<std::uint64_t>();
  b->stats_.expired_default = rd.get<std::uint64_t>();
  b->stats_.evicted = rd.get<std::uint64_t>();
  b->policy_->set_reinversions(rd.get<std::uint64_t>());
  for (auto& s : b->rng_.s) s = rd.get<std::uint64_t>();
  b->policy_->read(rd, b->t_);
  const Policy& policy = *b->policy_;
  const std::uint64_t t = b->t_, next_id = b->next_id_;
  b->pending_.read(rd, c.dim, [&](std::uint64_t id, const Pending& p) {
    if ((p.in_design && !policy.imputes()) || !std::isfinite(p.imputed) || p.arm >= c.n_arms ||
        id >= next_id || p.time > t)
      throw CorruptFile("bandit state: bad pending decision");
    check_stored_context(policy, p.x, "pending decision");
  });
  if (!rd.done()) throw CorruptFile("bandit state: trailing bytes");
  return b;
}

void Bandit::save(const std::string& path) const {
  const std::vector<unsigned char> blob = serialize();
  try {  // what load would do with it, before the good file is replaced
    deserialize(blob.data(), blob.size());
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("bandit: refusing to save a state that would not load (") +
                                e.what() + "); the file was not written");
  }
  io::write_file_atomic(path, kFileKind, kFormatVersion, blob.data(), blob.size());
}

std::unique_ptr<Bandit> Bandit::load(const std::string& path) {
  io::LoadedFile f = io::read_file(path, kFileKind, kFormatVersion);
  return deserialize(f.payload.data(), f.payload.size(), f.header.version);
}

}  // namespace si::bandit
