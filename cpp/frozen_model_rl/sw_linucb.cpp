// SW-LinUCB: LinUCB over the observations of the last `window` rounds (rank-1
// downdates when they leave the window). With Clock::Update each arm keeps its
// last round(window / n_arms) observations instead, none older than max_age
// rounds if that is set.
#include <cmath>
#include <deque>
#include <memory>
#include <vector>

#include "common/errors.hpp"
#include "frozen_model_rl/ridge_policy.hpp"

namespace si::bandit {

namespace {

struct WindowEntry {
  std::uint64_t time = 0;
  std::uint32_t arm = 0;
  double reward = 0.0;
  std::vector<double> x;
};

class SWLinUCB final : public RidgePolicy {
 public:
  SWLinUCB(const Config& cfg, const BanditKernels& kern) : RidgePolicy(cfg, kern) { clear_window(); }
  std::unique_ptr<Policy> clone() const override { return std::make_unique<SWLinUCB>(*this); }

  void reset() override {
    RidgePolicy::reset();
    clear_window();
  }

  void begin_round(std::uint64_t t) override { evict(t); }

  void scores(const double* x, double* out, bool with_width, std::uint64_t t) const override {
    if (with_width)
      ucb_scores(x, out);
    else
      means(x, out, t);
  }

  void learn(std::uint32_t arm, const double* x, double reward, std::uint64_t, std::uint64_t t) override {
    add(arm, x, reward, 1.0);
    WindowEntry e;
    e.time = t;
    e.arm = arm;
    e.reward = reward;
    e.x.assign(x, x + config().dim);
    (config().clock == Clock::Round ? window_ : arm_window_[arm]).push_back(std::move(e));
    evict(t);
  }

  // Window entries: the round clock's one queue, or the update clock's per-arm
  // queues one after the other (each oldest first).
  void write(ByteWriter& w) const override {
    write_ridges(w);
    std::vector<const std::deque<WindowEntry>*> queues;
    if (config().clock == Clock::Round) queues.push_back(&window_);
    for (const auto& q : arm_window_) queues.push_back(&q);
    std::uint64_t n_window = 0;
    for (const auto* q : queues) n_window += q->size();
    w.put<std::uint64_t>(n_window);
    for (const auto* q : queues)
      for (const auto& e : *q) {
        w.put<std::uint64_t>(e.time);
        w.put<std::uint32_t>(e.arm);
        w.put<double>(e.reward);
        w.vec(e.x);
      }
  }

  void read(ByteReader& r, std::uint64_t t) override {
    read_ridges(r);
    const Config& c = config();
    const auto nw = r.get<std::uint64_t>();
    if (nw > r.position() + r.remaining()) throw CorruptFile("bandit state: bad window size");
    for (std::uint64_t i = 0; i < nw; ++i) {
      WindowEntry e;
      e.time = r.get<std::uint64_t>();
      e.arm = r.get<std::uint32_t>();
      e.reward = r.get<double>();
      e.x = read_doubles(r, c.dim, "window x");
      if (e.arm >= c.n_arms || e.time > t || !(std::fabs(e.reward) <= kMaxReward))
        throw CorruptFile("bandit state: bad window entry");
      check_stored_context(*this, e.x, "window");
      auto& q = c.clock == Clock::Round ? window_ : arm_window_[e.arm];
      if (!q.empty() && e.time < q.back().time) throw CorruptFile("bandit state: window out of order");
      q.push_back(std::move(e));
    }
    for (const auto& q : arm_window_)
      if (q.size() > c.arm_window()) throw CorruptFile("bandit state: an arm's window is over-full");
  }

 private:
  void clear_window() {
    window_.clear();
    arm_window_.clear();
    if (config().clock == Clock::Update) arm_window_.resize(config().n_arms);
  }

  // Takes the oldest observation of q out of its arm's model.
  void downdate_front(std::deque<WindowEntry>& q) {
    const auto& e = q.front();
    add(e.arm, e.x.data(), e.reward, -1.0);
    q.pop_front();
  }

  void evict(std::uint64_t t) {
    const Config& c = config();
    if (c.clock == Clock::Round) {
      while (!window_.empty() && t - window_.front().time >= c.window) downdate_front(window_);
      return;
    }
    const std::uint64_t keep = c.arm_window();
    for (auto& q : arm_window_) {
      while (q.size() > keep) downdate_front(q);
      while (c.max_age && !q.empty() && t - q.front().time >= c.max_age) downdate_front(q);
    }
  }

  std::deque<WindowEntry> window_;                   // Clock::Round: all arms, oldest first
  std::vector<std::deque<WindowEntry>> arm_window_;  // Clock::Update: per arm
};

}  // namespace

const PolicyType kSWLinUCBType{Algo::SWLinUCB, "sw_linucb", &make_policy<SWLinUCB>, &RidgePolicy::ridge_state_bytes};

}  // namespace si::bandit
