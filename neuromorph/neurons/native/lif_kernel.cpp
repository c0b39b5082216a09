// Fused CPU kernels for the LIF recurrence (forward and adjoint), one pass over time per neuron.
//
// Layout: every sequence tensor is [T, N] contiguous (N = all non-time elements flattened); per-neuron
// parameters are [N] (broadcast in Python before the call). Each thread owns a contiguous range of neurons
// and walks time over it, keeping that range's membrane in a private buffer; every element is read once.
//
// Forward, per neuron i and step t:
//   v_pre = beta * u + x_t ;  s_t = v_pre >= thr ;  sg_t = surrogate'(v_pre - thr)
//   u = v_pre - s_t * R (reset 0: subtract, R = thr + penalty) | v_pre * (1 - s_t) (reset 1: zero) | v_pre (2)
// Backward (adjoint), t = T-1 .. 0, with G = g_u_last at t = T-1 and G = beta * gx_{t+1} otherwise:
//   gx_t = g_s_t * sg_t + c_t * G,  c_t = 1 - R sg_t (subtract), 1 - s_t - v_pre_t sg_t (zero), 1 (none or
//   detached reset; for a detached zero reset c_t = 1 - s_t).
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <atomic>
#include <tuple>
#include <cmath>
#include <cstring>
#include <type_traits>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <vector>

namespace {

// Each task owns a contiguous range of neurons, split into blocks of kBlock neurons whose state stays in L1
// while time is walked over the block (each time row of a block is a contiguous 8 KiB run, prefetch friendly).
// A task gets at least ~256k element-steps, so small problems stay on one thread (no thread wake-up cost).
constexpr int64_t kBlock = 2048;
inline int64_t grain(int64_t T) { return std::max<int64_t>(kBlock, 262144 / std::max<int64_t>(T, 1)); }

template <typename scalar_t, int KIND>
inline scalar_t surrogate_grad(scalar_t a, scalar_t x) {
  if constexpr (KIND == 0) {  // atan
    const scalar_t k = static_cast<scalar_t>(M_PI / 2) * a * x;
    return (a / 2) / (1 + k * k);
  } else if constexpr (KIND == 1) {  // fast sigmoid
    const scalar_t d = 1 + a * std::abs(x);
    return 1 / (d * d);
  } else if constexpr (KIND == 2) {  // triangle, a = width
    const scalar_t t = 1 - std::abs(x) / a;
    return std::max(t, scalar_t(0)) / a;
  } else {  // sigmoid
    const scalar_t s = 1 / (1 + std::exp(-a * x));
    return a * s * (1 - s);
  }
}

// Branch-free inner loops (the surrogate, reset and outputs are template parameters) so they vectorise.
// SG = false is the inference variant: the same spikes, bytes and membranes, no surrogate derivative (sg and
// v_pre_out are not touched and may be null). One call walks one time row of a block of n neurons; the
// pointers are function parameters marked __restrict (captured by a lambda they would lose it, and with that
// many possibly aliasing streams the compiler would not vectorise).
template <typename scalar_t, int KIND, int RESET, bool KEEP, bool SG>
inline void forward_row(const scalar_t* __restrict x, const scalar_t* __restrict beta,
                        const scalar_t* __restrict thr, const scalar_t* __restrict R, scalar_t* __restrict u,
                        scalar_t* __restrict spikes, uint8_t* __restrict spikes_u8, scalar_t* __restrict sg,
                        scalar_t* __restrict v_pre_out, int64_t n, scalar_t a) {
  for (int64_t j = 0; j < n; ++j) {
    const scalar_t vp = beta[j] * u[j] + x[j];
    const scalar_t d = vp - thr[j];
    const scalar_t s = d >= 0 ? scalar_t(1) : scalar_t(0);
    spikes[j] = s;
    spikes_u8[j] = static_cast<uint8_t>(d >= 0);
    if constexpr (SG) sg[j] = surrogate_grad<scalar_t, KIND>(a, d);
    if constexpr (KEEP) v_pre_out[j] = vp;
    if constexpr (RESET == 0) {
      u[j] = vp - s * R[j];
    } else if constexpr (RESET == 1) {
      u[j] = vp * (1 - s);
    } else {
      u[j] = vp;
    }
  }
}

template <typename scalar_t, int KIND, int RESET, bool KEEP, bool SG = true>
void forward_impl(const scalar_t* x, const scalar_t* v0, const scalar_t* beta, const scalar_t* thr,
                  const scalar_t* R, scalar_t* spikes, uint8_t* spikes_u8, scalar_t* sg, scalar_t* v_pre_out,
                  scalar_t* u_out, int64_t T, int64_t N, scalar_t a) {
  at::parallel_for(0, N, grain(T), [&](int64_t task_lo, int64_t task_hi) {
    scalar_t u[kBlock];
    for (int64_t lo = task_lo; lo < task_hi; lo += kBlock) {
      const int64_t n = std::min(task_hi, lo + kBlock) - lo;
      for (int64_t j = 0; j < n; ++j) u[j] = v0[lo + j];
      for (int64_t t = 0; t < T; ++t) {
        const int64_t off = t * N + lo;
        forward_row<scalar_t, KIND, RESET, KEEP, SG>(x + off, beta + lo, thr + lo, R + lo, u, spikes + off,
                                                     spikes_u8 + off, SG ? sg + off : nullptr,
                                                     KEEP ? v_pre_out + off : nullptr, n, a);
      }
      for (int64_t j = 0; j < n; ++j) u_out[lo + j] = u[j];
    }
  });
}

template <typename scalar_t, int RESET, bool DETACH>
inline void backward_row(const scalar_t* __restrict g_s, const scalar_t* __restrict sg,
                         const scalar_t* __restrict spikes, const scalar_t* __restrict v_pre,
                         const scalar_t* __restrict beta, const scalar_t* __restrict R, scalar_t* __restrict G,
                         scalar_t* __restrict gx, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const scalar_t s_g = sg[j];
    scalar_t c;
    if constexpr (RESET == 0 && !DETACH) {
      c = 1 - R[j] * s_g;
    } else if constexpr (RESET == 1 && DETACH) {
      c = 1 - spikes[j];
    } else if constexpr (RESET == 1) {
      c = 1 - spikes[j] - v_pre[j] * s_g;
    } else {
      c = 1;
    }
    const scalar_t g = g_s[j] * s_g + c * G[j];
    gx[j] = g;
    G[j] = beta[j] * g;
  }
}

template <typename scalar_t, int RESET, bool DETACH>
void backward_impl(const scalar_t* g_s, const scalar_t* g_u_last, const scalar_t* sg, const scalar_t* spikes,
                   const scalar_t* v_pre, const scalar_t* beta, const scalar_t* R, scalar_t* gx, int64_t T,
                   int64_t N) {
  const bool per_step_spikes = RESET == 1;  // only the zero reset reads the spikes / v_pre
  at::parallel_for(0, N, grain(T), [&](int64_t task_lo, int64_t task_hi) {
    scalar_t G[kBlock];
    for (int64_t lo = task_lo; lo < task_hi; lo += kBlock) {
      const int64_t n = std::min(task_hi, lo + kBlock) - lo;
      for (int64_t j = 0; j < n; ++j) G[j] = g_u_last[lo + j];
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t off = t * N + lo;
        backward_row<scalar_t, RESET, DETACH>(g_s + off, sg + off, per_step_spikes ? spikes + off : nullptr,
                                              per_step_spikes && v_pre ? v_pre + off : nullptr, beta + lo,
                                              R + lo, G, gx + off, n);
      }
    }
  });
}

template <typename scalar_t, int KIND>
void forward_reset(int reset, bool keep, const scalar_t* x, const scalar_t* v0, const scalar_t* beta,
                   const scalar_t* thr, const scalar_t* R, scalar_t* spikes, uint8_t* spikes_u8, scalar_t* sg,
                   scalar_t* v_pre,
                   scalar_t* u, int64_t T, int64_t N, scalar_t a) {
#define NM_FWD(RS, KP) \
  forward_impl<scalar_t, KIND, RS, KP>(x, v0, beta, thr, R, spikes, spikes_u8, sg, v_pre, u, T, N, a)
  if (reset == 0) { if (keep) NM_FWD(0, true); else NM_FWD(0, false); }
  else if (reset == 1) { if (keep) NM_FWD(1, true); else NM_FWD(1, false); }
  else { if (keep) NM_FWD(2, true); else NM_FWD(2, false); }
#undef NM_FWD
}

template <typename scalar_t>
void forward_dispatch(int kind, int reset, bool keep, const scalar_t* x, const scalar_t* v0, const scalar_t* beta,
                      const scalar_t* thr, const scalar_t* R, scalar_t* spikes, uint8_t* spikes_u8, scalar_t* sg,
                      scalar_t* v_pre,
                      scalar_t* u, int64_t T, int64_t N, scalar_t a) {
  switch (kind) {
    case 0: forward_reset<scalar_t, 0>(reset, keep, x, v0, beta, thr, R, spikes, spikes_u8, sg, v_pre, u, T, N, a); break;
    case 1: forward_reset<scalar_t, 1>(reset, keep, x, v0, beta, thr, R, spikes, spikes_u8, sg, v_pre, u, T, N, a); break;
    case 2: forward_reset<scalar_t, 2>(reset, keep, x, v0, beta, thr, R, spikes, spikes_u8, sg, v_pre, u, T, N, a); break;
    default: forward_reset<scalar_t, 3>(reset, keep, x, v0, beta, thr, R, spikes, spikes_u8, sg, v_pre, u, T, N, a);
  }
}

template <typename scalar_t>
void backward_dispatch(int reset, bool detach, const scalar_t* g_s, const scalar_t* g_u_last, const scalar_t* sg,
                       const scalar_t* spikes, const scalar_t* v_pre, const scalar_t* beta, const scalar_t* R,
                       scalar_t* gx, int64_t T, int64_t N) {
  if (reset == 0 && !detach) {
    backward_impl<scalar_t, 0, false>(g_s, g_u_last, sg, spikes, v_pre, beta, R, gx, T, N);
  } else if (reset == 1 && detach) {
    backward_impl<scalar_t, 1, true>(g_s, g_u_last, sg, spikes, v_pre, beta, R, gx, T, N);
  } else if (reset == 1) {
    backward_impl<scalar_t, 1, false>(g_s, g_u_last, sg, spikes, v_pre, beta, R, gx, T, N);
  } else {  // none, or a detached subtract reset: c = 1
    backward_impl<scalar_t, 2, true>(g_s, g_u_last, sg, spikes, v_pre, beta, R, gx, T, N);
  }
}

// A per-neuron parameter given as one value (scalar) or N values; returns a pointer to N values.
template <typename scalar_t>
const scalar_t* full_param(const torch::Tensor& p, int64_t N, std::vector<scalar_t>& storage) {
  if (p.numel() == N) return p.data_ptr<scalar_t>();
  TORCH_CHECK(p.numel() == 1, "neuromorph LIF kernel: parameter must have 1 or ", N, " elements, got ", p.numel());
  storage.assign(N, p.data_ptr<scalar_t>()[0]);
  return storage.data();
}

}  // namespace

// True when every value of t (contiguous) is finite: v - v is 0 for finite v and NaN for inf / NaN.
static bool all_finite(const torch::Tensor& t) {
  std::atomic<bool> ok{true};
  AT_DISPATCH_FLOATING_TYPES(t.scalar_type(), "all_finite", [&] {
    const scalar_t* p = t.data_ptr<scalar_t>();
    at::parallel_for(0, t.numel(), 1 << 16, [&](int64_t lo, int64_t hi) {
      int bad = 0;
      for (int64_t i = lo; i < hi; ++i) {
        const scalar_t z = p[i] - p[i];
        bad |= static_cast<int>(z != z);
      }
      if (bad) ok = false;
    });
  });
  return ok.load();
}

// Training forward: ({spikes, sg, u, spikes_u8[, v_pre]}, whether the final membrane u is finite).
std::tuple<std::vector<torch::Tensor>, bool> lif_forward(torch::Tensor x, torch::Tensor v0, torch::Tensor beta,
                                                         torch::Tensor thr, torch::Tensor R, int64_t reset,
                                                         int64_t kind, double a, bool keep_v_pre) {
  const int64_t T = x.size(0);
  const int64_t N = x.numel() / T;
  auto spikes = torch::empty_like(x);
  auto spikes_u8 = torch::empty(x.sizes(), x.options().dtype(torch::kUInt8));
  auto sg = torch::empty_like(x);
  auto v_pre = keep_v_pre ? torch::empty_like(x) : torch::Tensor();
  auto u = torch::empty({N}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lif_forward", [&] {
    std::vector<scalar_t> s0, s1, s2, s3;
    forward_dispatch<scalar_t>(static_cast<int>(kind), static_cast<int>(reset), keep_v_pre,
                               x.data_ptr<scalar_t>(), full_param<scalar_t>(v0, N, s0),
                               full_param<scalar_t>(beta, N, s1), full_param<scalar_t>(thr, N, s2),
                               full_param<scalar_t>(R, N, s3), spikes.data_ptr<scalar_t>(),
                               spikes_u8.data_ptr<uint8_t>(),
                               sg.data_ptr<scalar_t>(), keep_v_pre ? v_pre.data_ptr<scalar_t>() : nullptr,
                               u.data_ptr<scalar_t>(), T, N, static_cast<scalar_t>(a));
  });
  const bool finite = all_finite(u);
  if (keep_v_pre) return {std::vector<torch::Tensor>{spikes, sg, u, spikes_u8, v_pre}, finite};
  return {std::vector<torch::Tensor>{spikes, sg, u, spikes_u8}, finite};
}

// Inference forward (no autograd): (spikes, final membrane u [N], spikes_u8, whether u is finite); the
// spikes, bytes and membrane are bit-identical to lif_forward's (same loop body without the surrogate
// derivative).
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor, bool> lif_forward_inference(
    torch::Tensor x, torch::Tensor v0, torch::Tensor beta, torch::Tensor thr, torch::Tensor R, int64_t reset) {
  const int64_t T = x.size(0);
  const int64_t N = x.numel() / T;
  auto spikes = torch::empty_like(x);
  auto spikes_u8 = torch::empty(x.sizes(), x.options().dtype(torch::kUInt8));
  auto u = torch::empty({N}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lif_forward_inference", [&] {
    std::vector<scalar_t> s0, s1, s2, s3;
    const scalar_t* px = x.data_ptr<scalar_t>();
    const scalar_t* pv = full_param<scalar_t>(v0, N, s0);
    const scalar_t* pb = full_param<scalar_t>(beta, N, s1);
    const scalar_t* pt = full_param<scalar_t>(thr, N, s2);
    const scalar_t* pr = full_param<scalar_t>(R, N, s3);
    scalar_t* ps = spikes.data_ptr<scalar_t>();
    uint8_t* p8 = spikes_u8.data_ptr<uint8_t>();
    scalar_t* pu = u.data_ptr<scalar_t>();
    auto run = [&](auto reset_code) {
      forward_impl<scalar_t, 0, decltype(reset_code)::value, false, false>(px, pv, pb, pt, pr, ps, p8, nullptr,
                                                                           nullptr, pu, T, N, scalar_t(0));
    };
    if (reset == 0) run(std::integral_constant<int, 0>{});
    else if (reset == 1) run(std::integral_constant<int, 1>{});
    else run(std::integral_constant<int, 2>{});
  });
  return {spikes, u, spikes_u8, all_finite(u)};
}

// Leaky filter y_t = alpha * y_{t-1} + x_t (y_{-1} = y0) over [T, N], one pass; alpha and y0 hold 1 or N
// values. The product and sum are contracted like torch.addcmul's (one rounding), so the values equal the
// torch-ops loop of neuromorph.neurons.integrator bit for bit. Returns (y, whether the last step y_{T-1} is
// finite).
std::tuple<torch::Tensor, bool> leaky_forward(torch::Tensor x, torch::Tensor y0, torch::Tensor alpha) {
  const int64_t T = x.size(0);
  const int64_t N = x.numel() / T;
  auto y = torch::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "leaky_forward", [&] {
    std::vector<scalar_t> s0, s1;
    const scalar_t* __restrict px = x.data_ptr<scalar_t>();
    const scalar_t* __restrict p0 = full_param<scalar_t>(y0, N, s0);
    const scalar_t* __restrict pa = full_param<scalar_t>(alpha, N, s1);
    scalar_t* __restrict py = y.data_ptr<scalar_t>();
    at::parallel_for(0, N, grain(T), [&](int64_t lo, int64_t hi) {
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* __restrict prev = t == 0 ? p0 : py + (t - 1) * N;
        scalar_t* __restrict row = py + t * N;
        const scalar_t* __restrict xr = px + t * N;
        for (int64_t j = lo; j < hi; ++j) row[j] = pa[j] * prev[j] + xr[j];
      }
    });
  });
  return {y, all_finite(y[T - 1])};
}

torch::Tensor lif_backward(torch::Tensor g_s, torch::Tensor g_u_last, torch::Tensor sg, torch::Tensor spikes,
                           torch::Tensor v_pre, torch::Tensor beta, torch::Tensor R, int64_t reset,
                           bool detach_reset) {
  const int64_t T = g_s.size(0);
  const int64_t N = g_s.numel() / T;
  auto gx = torch::empty_like(g_s);
  AT_DISPATCH_FLOATING_TYPES(g_s.scalar_type(), "lif_backward", [&] {
    std::vector<scalar_t> s0, s1, s2;
    backward_dispatch<scalar_t>(static_cast<int>(reset), detach_reset, g_s.data_ptr<scalar_t>(),
                                full_param<scalar_t>(g_u_last, N, s0), sg.data_ptr<scalar_t>(),
                                spikes.numel() ? spikes.data_ptr<scalar_t>() : nullptr,
                                v_pre.numel() ? v_pre.data_ptr<scalar_t>() : nullptr,
                                full_param<scalar_t>(beta, N, s1), full_param<scalar_t>(R, N, s2),
                                gx.data_ptr<scalar_t>(), T, N);
  });
  return gx;
}

// dst[i] = (src[i] != 0) for i < n; returns nonzero when some src[i] is not exactly 0 or 1 (v * v == v holds
// exactly for v in {0, 1} and is false for NaN). Restrict pointers: a uint8_t store may otherwise alias src,
// which keeps the loop scalar.
template <typename scalar_t>
inline int compact_block(const scalar_t* __restrict src, uint8_t* __restrict dst, int64_t n) {
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const scalar_t v = src[i];
    bad |= static_cast<int>(v * v != v);
    dst[i] = static_cast<uint8_t>(v != scalar_t(0));
  }
  return bad;
}

// Spike storage: a uint8 copy of x and whether every element was exactly 0 or 1 (one pass).
std::tuple<torch::Tensor, bool> compact_binary(torch::Tensor x) {
  auto xc = x.contiguous();
  auto out = torch::empty(xc.sizes(), xc.options().dtype(torch::kUInt8));
  const int64_t n = xc.numel();
  std::atomic<bool> ok{true};
  AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "compact_binary", [&] {
    const scalar_t* src = xc.data_ptr<scalar_t>();
    uint8_t* dst = out.data_ptr<uint8_t>();
    at::parallel_for(0, n, 1 << 16, [&](int64_t task_lo, int64_t task_hi) {
      // blocks of 16k elements; stop as soon as any thread has seen a non-binary value
      for (int64_t lo = task_lo; lo < task_hi && ok.load(std::memory_order_relaxed); lo += 1 << 14) {
        const int64_t hi = std::min(task_hi, lo + (1 << 14));
        if (compact_block<scalar_t>(src + lo, dst + lo, hi - lo)) ok = false;
      }
    });
  });
  return {out, ok.load()};
}

// ---------------------------------------------------------------------------------------------------------
// Streaming chain: one time step of Linear -> neuron layers (LIF or leaky integrator) in one call, for closed
// loops at small batch, with the online-learning bookkeeping written by hand (no autograd):
//   per layer l: xhat_l = lam_l xhat_l + h ; chat_l = lam_l chat_l + 1            (presynaptic traces)
//                I = h W_l^T + b_l ;  LIF: v = beta v + I, u = v - thr, s = u >= 0, d_l = surrogate'(u), reset
//                                     LI:  v = beta v + I, out = v (d_l = 1)
//   backward(g): g_I = g * d_l ; dW_l += g_I^T xhat_l ; db_l += chat_l sum_b g_I ; g = g_I W_l (to layer l-1)
namespace {

template <typename scalar_t>
scalar_t surrogate_any(int kind, scalar_t a, scalar_t x) {
  switch (kind) {
    case 0: return surrogate_grad<scalar_t, 0>(a, x);
    case 1: return surrogate_grad<scalar_t, 1>(a, x);
    case 2: return surrogate_grad<scalar_t, 2>(a, x);
    default: return surrogate_grad<scalar_t, 3>(a, x);
  }
}

struct Chain {
  std::vector<torch::Tensor> W, b, beta, thr, R;
  std::vector<int64_t> kind, reset, skind;
  std::vector<double> sarg, lam, chat;
  std::vector<torch::Tensor> v, d, xhat;
  bool learn;

  Chain(std::vector<torch::Tensor> W_, std::vector<torch::Tensor> b_, std::vector<torch::Tensor> beta_,
        std::vector<torch::Tensor> thr_, std::vector<torch::Tensor> R_, std::vector<int64_t> kind_,
        std::vector<int64_t> reset_, std::vector<int64_t> skind_, std::vector<double> sarg_,
        std::vector<double> lam_, bool learn_)
      : W(W_), b(b_), beta(beta_), thr(thr_), R(R_), kind(kind_), reset(reset_), skind(skind_), sarg(sarg_),
        lam(lam_), learn(learn_) {}

  void clear() { v.clear(); d.clear(); xhat.clear(); chat.clear(); }

  void init(const torch::Tensor& x) {
    const int64_t B = x.size(0);
    clear();
    for (size_t l = 0; l < W.size(); ++l) {
      v.push_back(torch::zeros({B, W[l].size(0)}, x.options()));
      d.push_back(torch::ones({B, W[l].size(0)}, x.options()));
      xhat.push_back(torch::zeros({B, W[l].size(1)}, x.options()));
      chat.push_back(0.0);
    }
  }

  torch::Tensor step(torch::Tensor x) {
    TORCH_CHECK(x.dim() == 2 && x.is_contiguous(), "chain step: x must be a contiguous [B, features] tensor");
    if (v.empty() || v[0].size(0) != x.size(0) || v[0].scalar_type() != x.scalar_type()) init(x);
    torch::Tensor h = x;
    for (size_t l = 0; l < W.size(); ++l) {
      if (learn) {
        xhat[l].mul_(lam[l]).add_(h);
        chat[l] = lam[l] * chat[l] + 1.0;
      }
      torch::Tensor I = b[l].numel() ? at::addmm(b[l], h, W[l].t()) : at::mm(h, W[l].t());
      const int64_t B = I.size(0), N = I.size(1);
      AT_DISPATCH_FLOATING_TYPES(I.scalar_type(), "chain_step", [&] {
        scalar_t* io = I.data_ptr<scalar_t>();
        scalar_t* vv = v[l].data_ptr<scalar_t>();
        scalar_t* dd = d[l].data_ptr<scalar_t>();
        const scalar_t* be = beta[l].data_ptr<scalar_t>();
        const bool per_b = beta[l].numel() > 1;
        if (kind[l] == 1) {  // leaky integrator: the output is the membrane
          for (int64_t i = 0; i < B; ++i)
            for (int64_t j = 0; j < N; ++j) {
              const int64_t k = i * N + j;
              vv[k] = be[per_b ? j : 0] * vv[k] + io[k];
              io[k] = vv[k];
            }
          return;
        }
        const scalar_t* th = thr[l].data_ptr<scalar_t>();
        const scalar_t* rr = R[l].data_ptr<scalar_t>();
        const bool per_t = thr[l].numel() > 1, per_r = R[l].numel() > 1;
        const scalar_t a = static_cast<scalar_t>(sarg[l]);
        const int sk = static_cast<int>(skind[l]);
        const int rs = static_cast<int>(reset[l]);
        // one row of N neurons at a time; branch-free body so the compiler vectorises it
        std::vector<scalar_t> bb(N), tt(N), rv(N);
        for (int64_t j = 0; j < N; ++j) {
          bb[j] = be[per_b ? j : 0];
          tt[j] = th[per_t ? j : 0];
          rv[j] = rr[per_r ? j : 0];
        }
        for (int64_t i = 0; i < B; ++i) {
          scalar_t* __restrict vr = vv + i * N;
          scalar_t* __restrict ir = io + i * N;
          scalar_t* __restrict dr = dd + i * N;
          if (learn) {
            for (int64_t j = 0; j < N; ++j) dr[j] = surrogate_any<scalar_t>(sk, a, bb[j] * vr[j] + ir[j] - tt[j]);
          }
          for (int64_t j = 0; j < N; ++j) {
            const scalar_t vp = bb[j] * vr[j] + ir[j];
            const scalar_t s = vp - tt[j] >= 0 ? scalar_t(1) : scalar_t(0);
            vr[j] = rs == 0 ? vp - s * rv[j] : (rs == 1 ? vp * (1 - s) : vp);
            ir[j] = s;
          }
        }
      });
      h = I;
    }
    return h;
  }

  // Accumulate the weight and bias gradients of dL/d(output of the last step) = g into grads_W / grads_b.
  void backward(torch::Tensor g, std::vector<torch::Tensor> grads_W, std::vector<torch::Tensor> grads_b) {
    TORCH_CHECK(learn && !v.empty(), "chain backward: run step() with learning enabled first");
    for (int64_t l = static_cast<int64_t>(W.size()) - 1; l >= 0; --l) {
      torch::Tensor gI = kind[l] == 1 ? g : g * d[l];
      grads_W[l].addmm_(gI.t(), xhat[l]);
      if (grads_b[l].numel()) grads_b[l].add_(gI.sum(0), chat[l]);
      if (l > 0) g = at::mm(gI, W[l]);
    }
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Event-driven synapses: binary input spikes as events (per-row index lists) feeding a gather-accumulate of
// weight rows, instead of a dense float GEMM. With W^T stored row-major ([F_in, F_out], row i = the weights
// leaving input i):
//   out[r, :] = b + sum_{i : s[r, i] = 1} W^T[i, :]          (terms added in increasing i)
// Work: nnz * F_out additions (dense: R * F_in * F_out multiply-adds). The index lists are built in one
// counting pass over the bytes (8 at a time), an exclusive prefix sum and a filling pass; the accumulation
// runs over (column tile x row block) tasks so each thread keeps its slice of W^T hot in cache and the tile
// of outputs in registers.
namespace {

constexpr int64_t kEventRows = 32;  // rows per task of the accumulation

// Number of nonzero bytes of s[0..n) (every byte is 0 or 1).
inline int64_t count_ones(const uint8_t* s, int64_t n) {
  int64_t count = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    count += static_cast<int64_t>((w * 0x0101010101010101ULL) >> 56);  // byte sum, exact for 0/1 bytes
  }
  for (; i < n; ++i) count += s[i];
  return count;
}

// Indices of the nonzero bytes of s[0..n) into idx (in increasing order); returns how many.
inline int64_t fill_indices(const uint8_t* s, int64_t n, int32_t* idx) {
  int64_t k = 0, i = 0;
#if defined(__AVX2__)
  const __m256i zero = _mm256_setzero_si256();
  for (; i + 32 <= n; i += 32) {  // 32 bytes -> a 32-bit mask of the nonzero ones, walked by lowest set bit
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    uint32_t mask = ~static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, zero)));
    while (mask) {
      idx[k++] = static_cast<int32_t>(i + __builtin_ctz(mask));
      mask &= mask - 1;
    }
  }
#endif
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, s + i, 8);
    if (w == 0) continue;
    for (int j = 0; j < 8; ++j)
      if (s[i + j]) idx[k++] = static_cast<int32_t>(i + j);
  }
  for (; i < n; ++i)
    if (s[i]) idx[k++] = static_cast<int32_t>(i);
  return k;
}

// One tile of TILE output columns for rows [r0, r1): acc = bias; acc += W^T[i, c0 : c0 + TILE] per event.
// The tile of accumulators stays in registers (8 AVX2 vectors when available).
template <typename scalar_t, int TILE>
inline void accumulate_tile(const int32_t* __restrict idx, const int64_t* __restrict offsets,
                            const scalar_t* __restrict wt, const scalar_t* __restrict bias,
                            scalar_t* __restrict out, int64_t r0, int64_t r1, int64_t c0, int64_t F_out) {
#if defined(__AVX2__)
  if constexpr (std::is_same_v<scalar_t, float> || std::is_same_v<scalar_t, double>) {
    using Vec = std::conditional_t<std::is_same_v<scalar_t, float>, __m256, __m256d>;
    constexpr int L = 32 / sizeof(scalar_t);  // lanes per vector
    static_assert(TILE == 8 * L, "the AVX2 tile holds 8 vectors");
    auto load = [](const scalar_t* p) -> Vec {
      if constexpr (std::is_same_v<scalar_t, float>) return _mm256_loadu_ps(p); else return _mm256_loadu_pd(p);
    };
    auto add = [](Vec a, Vec b) -> Vec {
      if constexpr (std::is_same_v<scalar_t, float>) return _mm256_add_ps(a, b); else return _mm256_add_pd(a, b);
    };
    auto store = [](scalar_t* p, Vec v) {
      if constexpr (std::is_same_v<scalar_t, float>) _mm256_storeu_ps(p, v); else _mm256_storeu_pd(p, v);
    };
    auto zero = []() -> Vec {
      if constexpr (std::is_same_v<scalar_t, float>) return _mm256_setzero_ps(); else return _mm256_setzero_pd();
    };
    for (int64_t r = r0; r < r1; ++r) {
      Vec a0, a1, a2, a3, a4, a5, a6, a7;
      if (bias) {
        const scalar_t* bb = bias + c0;
        a0 = load(bb); a1 = load(bb + L); a2 = load(bb + 2 * L); a3 = load(bb + 3 * L);
        a4 = load(bb + 4 * L); a5 = load(bb + 5 * L); a6 = load(bb + 6 * L); a7 = load(bb + 7 * L);
      } else {
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = zero();
      }
      for (int64_t e = offsets[r]; e < offsets[r + 1]; ++e) {
        const scalar_t* w = wt + static_cast<int64_t>(idx[e]) * F_out + c0;
        a0 = add(a0, load(w)); a1 = add(a1, load(w + L)); a2 = add(a2, load(w + 2 * L));
        a3 = add(a3, load(w + 3 * L)); a4 = add(a4, load(w + 4 * L)); a5 = add(a5, load(w + 5 * L));
        a6 = add(a6, load(w + 6 * L)); a7 = add(a7, load(w + 7 * L));
      }
      scalar_t* o = out + r * F_out + c0;
      store(o, a0); store(o + L, a1); store(o + 2 * L, a2); store(o + 3 * L, a3);
      store(o + 4 * L, a4); store(o + 5 * L, a5); store(o + 6 * L, a6); store(o + 7 * L, a7);
    }
    return;
  }
#endif
  for (int64_t r = r0; r < r1; ++r) {
    scalar_t acc[TILE];
    for (int j = 0; j < TILE; ++j) acc[j] = bias ? bias[c0 + j] : scalar_t(0);
    for (int64_t e = offsets[r]; e < offsets[r + 1]; ++e) {
      const scalar_t* __restrict w = wt + static_cast<int64_t>(idx[e]) * F_out + c0;
      for (int j = 0; j < TILE; ++j) acc[j] += w[j];
    }
    scalar_t* __restrict o = out + r * F_out + c0;
    for (int j = 0; j < TILE; ++j) o[j] = acc[j];
  }
}

// The last, narrower tile (width < TILE).
template <typename scalar_t>
inline void accumulate_tail(const int32_t* __restrict idx, const int64_t* __restrict offsets,
                            const scalar_t* __restrict wt, const scalar_t* __restrict bias,
                            scalar_t* __restrict out, int64_t r0, int64_t r1, int64_t c0, int64_t width,
                            int64_t F_out) {
  for (int64_t r = r0; r < r1; ++r) {
    scalar_t* __restrict o = out + r * F_out + c0;
    for (int64_t j = 0; j < width; ++j) o[j] = bias ? bias[c0 + j] : scalar_t(0);
    for (int64_t e = offsets[r]; e < offsets[r + 1]; ++e) {
      const scalar_t* __restrict w = wt + static_cast<int64_t>(idx[e]) * F_out + c0;
      for (int64_t j = 0; j < width; ++j) o[j] += w[j];
    }
  }
}

template <typename scalar_t>
void event_accumulate(const int32_t* idx, const int64_t* offsets, const scalar_t* wt, const scalar_t* bias,
                      scalar_t* out, int64_t R, int64_t F_out, int64_t nnz) {
  constexpr int TILE = 64 / static_cast<int>(sizeof(scalar_t)) * 4;  // 64 floats / 32 doubles: 8 AVX2 registers
  const int64_t col_tiles = (F_out + TILE - 1) / TILE;
  const int64_t row_blocks = (R + kEventRows - 1) / kEventRows;
  const int64_t tasks = col_tiles * row_blocks;
  // ~256k additions per task at least: small problems stay on the calling thread (no thread wake-up cost)
  const int64_t work_per_task = std::max<int64_t>(1, (nnz * std::min<int64_t>(F_out, TILE)) / std::max<int64_t>(tasks, 1));
  const int64_t task_grain = std::max<int64_t>(1, 262144 / work_per_task);
  at::parallel_for(0, tasks, task_grain, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      const int64_t c0 = (k / row_blocks) * TILE;
      const int64_t r0 = (k % row_blocks) * kEventRows;
      const int64_t r1 = std::min(R, r0 + kEventRows);
      if (c0 + TILE <= F_out) {
        accumulate_tile<scalar_t, TILE>(idx, offsets, wt, bias, out, r0, r1, c0, F_out);
      } else {
        accumulate_tail<scalar_t>(idx, offsets, wt, bias, out, r0, r1, c0, F_out - c0, F_out);
      }
    }
  });
}

}  // namespace

// Per-row index lists of a [R, F] uint8 0/1 matrix: (indices int32 [nnz], offsets int64 [R + 1]), CSR layout.
std::tuple<torch::Tensor, torch::Tensor> spike_events(torch::Tensor spikes_u8) {
  TORCH_CHECK(spikes_u8.scalar_type() == torch::kUInt8 && spikes_u8.dim() == 2 && spikes_u8.is_contiguous(),
              "spike_events: spikes must be a contiguous [rows, features] uint8 tensor");
  const int64_t R = spikes_u8.size(0), F = spikes_u8.size(1);
  TORCH_CHECK(F < (int64_t(1) << 31), "spike_events: too many features for int32 indices");
  const uint8_t* s = spikes_u8.data_ptr<uint8_t>();
  auto offsets = torch::empty({R + 1}, torch::dtype(torch::kInt64));
  int64_t* off = offsets.data_ptr<int64_t>();
  off[0] = 0;
  const int64_t row_grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(F, 1));
  at::parallel_for(0, R, row_grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) off[r + 1] = count_ones(s + r * F, F);
  });
  for (int64_t r = 0; r < R; ++r) off[r + 1] += off[r];
  auto indices = torch::empty({off[R]}, torch::dtype(torch::kInt32));
  int32_t* idx = indices.data_ptr<int32_t>();
  at::parallel_for(0, R, row_grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) fill_indices(s + r * F, F, idx + off[r]);
  });
  return {indices, offsets};
}

// out [R, F_out] = bias + sum over the events of each row of the rows of weight_t [F_in, F_out].
torch::Tensor event_linear_csr(torch::Tensor indices, torch::Tensor offsets, torch::Tensor weight_t,
                               torch::Tensor bias) {
  TORCH_CHECK(indices.scalar_type() == torch::kInt32 && offsets.scalar_type() == torch::kInt64,
              "event_linear: indices must be int32 and offsets int64");
  TORCH_CHECK(weight_t.dim() == 2 && weight_t.is_contiguous(), "event_linear: weight_t must be contiguous 2-D");
  TORCH_CHECK(!bias.numel() || (bias.numel() == weight_t.size(1) && bias.is_contiguous() &&
                                bias.scalar_type() == weight_t.scalar_type()),
              "event_linear: bias must be empty or a contiguous [F_out] tensor of weight_t's dtype");
  const int64_t R = offsets.numel() - 1, F_out = weight_t.size(1);
  auto out = torch::empty({R, F_out}, weight_t.options());
  if (R == 0 || F_out == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(weight_t.scalar_type(), "event_linear", [&] {
    event_accumulate<scalar_t>(indices.data_ptr<int32_t>(), offsets.data_ptr<int64_t>(),
                               weight_t.data_ptr<scalar_t>(), bias.numel() ? bias.data_ptr<scalar_t>() : nullptr,
                               out.data_ptr<scalar_t>(), R, F_out, indices.numel());
  });
  return out;
}

// Both steps in one call, deciding by the measured spike rate: the events' output when
// nnz <= max_rate * R * F_in, else an undefined tensor (the caller runs the dense GEMM); also returns nnz.
std::tuple<torch::Tensor, int64_t> event_linear(torch::Tensor spikes_u8, torch::Tensor weight_t, torch::Tensor bias,
                                                double max_rate) {
  TORCH_CHECK(spikes_u8.dim() == 2 && weight_t.dim() == 2 && spikes_u8.size(1) == weight_t.size(0),
              "event_linear: spikes [R, F_in] and weight_t [F_in, F_out] do not match");
  auto csr = spike_events(spikes_u8);
  const int64_t nnz = std::get<0>(csr).numel();
  if (static_cast<double>(nnz) > max_rate * static_cast<double>(spikes_u8.numel())) return {torch::Tensor(), nnz};
  return {event_linear_csr(std::get<0>(csr), std::get<1>(csr), weight_t, bias), nnz};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("compact_binary", &compact_binary, "uint8 copy of a 0/1 tensor and whether it was binary (CPU)");
  m.def("lif_forward", &lif_forward, "fused LIF forward over time (CPU)");
  m.def("lif_forward_inference", &lif_forward_inference, "fused LIF forward without surrogate derivative (CPU)");
  m.def("leaky_forward", &leaky_forward, "leaky filter y_t = alpha y_{t-1} + x_t over time (CPU)");
  m.def("lif_backward", &lif_backward, "fused LIF adjoint over time (CPU)");
  m.def("spike_events", &spike_events, "per-row index lists (CSR) of a uint8 0/1 matrix");
  m.def("event_linear_csr", &event_linear_csr, "bias + sum of the weight_t rows of each row's events");
  m.def("event_linear", &event_linear, "event-driven linear layer on uint8 spikes when the rate <= max_rate");
  py::class_<Chain>(m, "Chain")
      .def(py::init<std::vector<torch::Tensor>, std::vector<torch::Tensor>, std::vector<torch::Tensor>,
                    std::vector<torch::Tensor>, std::vector<torch::Tensor>, std::vector<int64_t>,
                    std::vector<int64_t>, std::vector<int64_t>, std::vector<double>, std::vector<double>, bool>())
      .def("step", &Chain::step, "one time step of the whole chain; returns the last layer's output")
      .def("backward", &Chain::backward, "accumulate weight/bias gradients of dL/d(last output)")
      .def("clear", &Chain::clear, "forget the states and traces");
}
