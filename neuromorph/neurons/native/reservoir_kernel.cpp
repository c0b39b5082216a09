// Event-driven simulation of the sparse LIF reservoir (neuromorph.models.reservoir.reservoir_step), many steps
// per call, no Python per step.
//
// Per step t, for every neuron i of one sample (the same equations and summation order as reservoir_step):
//   syn[i]   = sum over presynaptic j that spiked at t-1, in ascending j, of W[j, i]   (one-step delay)
//   I[i]     = (syn[i] + x_t[i]) + bias[i]
//   v_pre[i] = beta[i] * v[i] + I[i];   v_pre[i] = v_reset if r[i] > 0 (refractory clamp, when refractory > 0)
//   s[i]     = v_pre[i] >= thr[i];  v[i] = s ? v_reset : v_pre;  r[i] = s ? refractory : max(r[i] - 1, 0)
//   a[i]     = s[i] + trace_decay * a[i]
// Compiled with -ffp-contract=off so that beta * v + I rounds like the two torch ops (no fused multiply-add),
// and -fno-trapping-math so that the branch-free update vectorises.
//
// Synapses: pre-major CSR (crow [N+1], col [nnz] sorted ascending within each row, val [nnz]). Only the rows
// of neurons that spiked are read (cost ~ spikes * K). Threads: thread k owns the neurons [lo_k, hi_k); it
// scatters, for every spike of the previous step, the part of that spike's row whose targets lie in its own
// range (found by binary search in the sorted row), so no two threads write the same input cell and no
// reduction is needed. Spike lists are double-buffered by step parity: one barrier per step. At most one thread
// per `min_neurons` neurons (Python default 25k). Column indices are int32 (12 bytes per float64 synapse).
#include <torch/extension.h>
#include <omp.h>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {

// True when any of v[0..16) reaches its threshold (thr[0] for all when UNIFORM, else thr[0..16)).
template <typename scalar_t, bool UNIFORM>
inline bool any_crossed16(const scalar_t* __restrict v, const scalar_t* __restrict thr) {
#if defined(__AVX2__)
  if constexpr (std::is_same_v<scalar_t, double>) {
    __m256d any = _mm256_setzero_pd();
    const __m256d th0 = _mm256_set1_pd(thr[0]);
    for (int q = 0; q < 16; q += 4) {
      const __m256d th = UNIFORM ? th0 : _mm256_loadu_pd(thr + q);
      any = _mm256_or_pd(any, _mm256_cmp_pd(_mm256_loadu_pd(v + q), th, _CMP_GE_OQ));
    }
    return _mm256_movemask_pd(any) != 0;
  } else if constexpr (std::is_same_v<scalar_t, float>) {
    __m256 any = _mm256_setzero_ps();
    const __m256 th0 = _mm256_set1_ps(thr[0]);
    for (int q = 0; q < 16; q += 8) {
      const __m256 th = UNIFORM ? th0 : _mm256_loadu_ps(thr + q);
      any = _mm256_or_ps(any, _mm256_cmp_ps(_mm256_loadu_ps(v + q), th, _CMP_GE_OQ));
    }
    return _mm256_movemask_ps(any) != 0;
  }
#endif
  bool any = false;
  for (int q = 0; q < 16; ++q) any |= v[q] >= (UNIFORM ? thr[0] : thr[q]);
  return any;
}

// One step of the own range, in two passes. Pass 1 (vectorised, branch free): v = v_pre (the clamped value while
// refractory) and r = max(r - 1, 0) for every neuron. Pass 2: the neurons with v >= thr go to `out` (16 at a time
// are skipped when none crossed); the caller then resets them (v = v_reset, r = refractory). UNIFORM: beta and
// thr are the same for every neuron (passed as scalars). Returns the number of spikes. The trace is not touched
// here: it decays lazily (see simulate_impl).
template <typename scalar_t, bool HAS_BIAS, bool REFRAC, bool UNIFORM>
inline int64_t update(int64_t lo, int64_t hi, scalar_t* __restrict in, const scalar_t* __restrict xt,
                      const scalar_t* __restrict bias, const scalar_t* __restrict beta,
                      const scalar_t* __restrict thr, scalar_t* __restrict v, scalar_t* __restrict r,
                      int32_t* __restrict out, scalar_t v_reset) {
  const scalar_t beta0 = beta[0], thr0 = thr[0];
  for (int64_t i = lo; i < hi; ++i) {
    scalar_t current = in[i] + xt[i];
    if constexpr (HAS_BIAS) current = current + bias[i];
    in[i] = scalar_t(0);
    scalar_t v_pre = (UNIFORM ? beta0 : beta[i]) * v[i] + current;
    if constexpr (REFRAC) {
      v_pre = r[i] > scalar_t(0) ? v_reset : v_pre;
      r[i] = std::max(r[i] - scalar_t(1), scalar_t(0));
    }
    v[i] = v_pre;
  }
  int64_t n_out = 0, i = lo;
  for (; i + 16 <= hi; i += 16) {
    if (!any_crossed16<scalar_t, UNIFORM>(v + i, UNIFORM ? thr : thr + i)) continue;
    for (int64_t q = i; q < i + 16; ++q) {
      out[n_out] = static_cast<int32_t>(q);
      n_out += v[q] >= (UNIFORM ? thr0 : thr[q]);
    }
  }
  for (; i < hi; ++i) {
    out[n_out] = static_cast<int32_t>(i);
    n_out += v[i] >= (UNIFORM ? thr0 : thr[i]);
  }
  return n_out;
}

template <typename scalar_t, bool HAS_BIAS, bool REFRAC>
inline int64_t update_any(bool uniform, int64_t lo, int64_t hi, scalar_t* in, const scalar_t* xt,
                          const scalar_t* bias, const scalar_t* beta, const scalar_t* thr, scalar_t* v, scalar_t* r,
                          int32_t* out, scalar_t v_reset) {
  if (uniform) return update<scalar_t, HAS_BIAS, REFRAC, true>(lo, hi, in, xt, bias, beta, thr, v, r, out, v_reset);
  return update<scalar_t, HAS_BIAS, REFRAC, false>(lo, hi, in, xt, bias, beta, thr, v, r, out, v_reset);
}

template <typename scalar_t>
void simulate_impl(scalar_t* v, scalar_t* refrac, scalar_t* trace, uint8_t* last_spikes, const scalar_t* x,
                   bool constant_drive, const scalar_t* beta, const scalar_t* thr, bool uniform,
                   const scalar_t* bias, const int64_t* crow, const int32_t* col, const scalar_t* val,
                   scalar_t v_reset, int64_t refractory, scalar_t decay, int64_t T, int64_t B, int64_t N,
                   int threads, int64_t min_neurons, int64_t* counts_step, int64_t* counts_neuron,
                   uint8_t* raster) {
  // at most one thread per min_neurons neurons: below that a step is a few microseconds of work and the
  // per-step barrier (or, on a loaded machine, a descheduled partner thread) costs more than it saves
  const int nt = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, N / min_neurons)));
  // the trace decays lazily: a neuron's trace is brought up to date (times decay^k, k steps since its last
  // update) only when it spikes, and for every neuron after the last step
  std::vector<scalar_t> decay_pow(T + 2, scalar_t(1));
  for (int64_t q = 1; q < T + 2; ++q) decay_pow[q] = decay_pow[q - 1] * decay;
  std::vector<int64_t> trace_step(N);
  std::vector<int64_t> bounds(nt + 1);
  for (int k = 0; k <= nt; ++k) bounds[k] = N * k / nt;
  // spike lists per (parity, thread) and their lengths
  std::vector<std::vector<int32_t>> lists(2 * nt);
  for (int k = 0; k < nt; ++k) {
    lists[k].resize(bounds[k + 1] - bounds[k]);
    lists[nt + k].resize(bounds[k + 1] - bounds[k]);
  }
  std::vector<int64_t> lengths(2 * nt, 0);
  std::vector<scalar_t> syn(N, scalar_t(0));
  const scalar_t refr = static_cast<scalar_t>(refractory);

  for (int64_t b = 0; b < B; ++b) {
    scalar_t* vb = v + b * N;
    scalar_t* rb = refrac + b * N;
    scalar_t* ab = trace + b * N;
    uint8_t* sb = last_spikes + b * N;
    int64_t* cnb = counts_neuron + b * N;
#pragma omp parallel num_threads(nt)
    {
      const int k = omp_get_thread_num();
      const int64_t lo = bounds[k], hi = bounds[k + 1];
      int32_t* own[2] = {lists[k].data(), lists[nt + k].data()};
      // the previous step's spikes (stored state) go to parity 1, read at t = 0
      int64_t m = 0;
      for (int64_t i = lo; i < hi; ++i)
        if (sb[i]) own[1][m++] = static_cast<int32_t>(i);
      lengths[nt + k] = m;
      scalar_t* in = syn.data();
      int64_t* since = trace_step.data();  // step at which ab[i] was last brought up to date (-1: call start)
      for (int64_t i = lo; i < hi; ++i) since[i] = -1;
#pragma omp barrier
      for (int64_t t = 0; t < T; ++t) {
        const int cur = static_cast<int>(t & 1), prev = cur ^ 1;
        // 1. scatter the previous step's spikes (ascending presynaptic index) into this thread's targets
        for (int q = 0; q < nt; ++q) {
          const int32_t* spikes = lists[prev * nt + q].data();
          const int64_t count = lengths[prev * nt + q];
          for (int64_t e = 0; e < count; ++e) {
            const int64_t j = spikes[e];
            if (e + 4 < count) {  // the start of a row is a cache miss: ask for the one 4 spikes ahead now
              __builtin_prefetch(col + crow[spikes[e + 4]]);
              __builtin_prefetch(val + crow[spikes[e + 4]]);
            }
            const int32_t* first = col + crow[j];
            const int32_t* last = col + crow[j + 1];
            if (nt > 1) {
              first = std::lower_bound(first, last, static_cast<int32_t>(lo));
              last = std::lower_bound(first, last, static_cast<int32_t>(hi));
            }
            const scalar_t* w = val + (first - col);
            const int64_t len = last - first;
            for (int64_t s = 0; s < len; ++s) in[first[s]] += w[s];
          }
        }
        // 2. membrane update of the own range (branch free, vectorised)
        const scalar_t* xt = x + (constant_drive ? 0 : t * B * N) + b * N;
        int32_t* out = own[cur];
        int64_t n_out;
        if (bias) {
          n_out = refractory > 0
              ? update_any<scalar_t, true, true>(uniform, lo, hi, in, xt, bias, beta, thr, vb, rb, out, v_reset)
              : update_any<scalar_t, true, false>(uniform, lo, hi, in, xt, bias, beta, thr, vb, rb, out, v_reset);
        } else {
          n_out = refractory > 0
              ? update_any<scalar_t, false, true>(uniform, lo, hi, in, xt, bias, beta, thr, vb, rb, out, v_reset)
              : update_any<scalar_t, false, false>(uniform, lo, hi, in, xt, bias, beta, thr, vb, rb, out, v_reset);
        }
        // 3. reset the neurons that spiked, count them, bring their trace up to date
        for (int64_t e = 0; e < n_out; ++e) {
          const int64_t q = out[e];
          vb[q] = v_reset;
          if (refractory > 0) rb[q] = refr;
          ++cnb[q];
          ab[q] = scalar_t(1) + decay_pow[t - since[q]] * ab[q];
          since[q] = t;
        }
        if (raster) {
          uint8_t* row = raster + (t * B + b) * N;
          std::fill(row + lo, row + hi, uint8_t(0));
          for (int64_t e = 0; e < n_out; ++e) row[out[e]] = 1;
        }
        lengths[cur * nt + k] = n_out;
#pragma omp barrier
        if (k == 0) {
          int64_t total = 0;
          for (int q = 0; q < nt; ++q) total += lengths[cur * nt + q];
          counts_step[t * B + b] = total;
        }
      }
      if (T > 0) {  // the last step's spikes are the state's spikes
        std::fill(sb + lo, sb + hi, uint8_t(0));
        const int32_t* last_out = own[(T - 1) & 1];
        for (int64_t e = 0; e < lengths[((T - 1) & 1) * nt + k]; ++e) sb[last_out[e]] = 1;
      }
      for (int64_t i = lo; i < hi; ++i) ab[i] = decay_pow[T - 1 - since[i]] * ab[i];
    }
  }
}

// Runs T steps in place on (v, refrac, trace, last_spikes [B, N] uint8). x: [B, N] (constant drive) or
// [T, B, N]. Returns (spike counts per step [T, B], spike counts per neuron [B, N], raster [T, B, N] uint8 or
// an empty tensor).
std::vector<torch::Tensor> simulate(torch::Tensor v, torch::Tensor refrac, torch::Tensor trace,
                                    torch::Tensor last_spikes, torch::Tensor x, torch::Tensor beta,
                                    torch::Tensor thr, c10::optional<torch::Tensor> bias, torch::Tensor crow,
                                    torch::Tensor col, torch::Tensor val, double v_reset, int64_t refractory,
                                    double trace_decay, int64_t steps, int64_t threads, int64_t min_neurons,
                                    bool record) {
  TORCH_CHECK(v.dim() == 2 && v.is_contiguous(), "v must be a contiguous [B, N] tensor");
  const int64_t B = v.size(0), N = v.size(1);
  for (const auto& t : {refrac, trace, beta, thr, val})
    TORCH_CHECK(t.scalar_type() == v.scalar_type() && t.is_contiguous(), "all float tensors share v's dtype");
  TORCH_CHECK(last_spikes.scalar_type() == torch::kUInt8 && last_spikes.is_contiguous(), "spikes must be uint8");
  TORCH_CHECK(crow.scalar_type() == torch::kLong && col.scalar_type() == torch::kInt, "crow int64, col int32");
  TORCH_CHECK(beta.numel() == thr.numel() && (beta.numel() == N || beta.numel() == 1), "beta/thr: [N] or [1]");
  TORCH_CHECK(min_neurons >= 1, "min_neurons must be positive");
  TORCH_CHECK(crow.numel() == N + 1, "crow must have N + 1 entries");
  TORCH_CHECK(N < (int64_t(1) << 31), "at most 2^31 - 1 neurons");
  const bool constant_drive = x.dim() == 2;
  TORCH_CHECK(x.is_contiguous() && x.scalar_type() == v.scalar_type(), "x must be contiguous, v's dtype");
  TORCH_CHECK(constant_drive ? (x.size(0) == B && x.size(1) == N)
                             : (x.dim() == 3 && x.size(0) >= steps && x.size(1) == B && x.size(2) == N),
              "x must be [B, N] or [T, B, N]");
  if (bias.has_value()) TORCH_CHECK(bias->numel() == N && bias->is_contiguous(), "bias must be [N]");
  auto counts_step = torch::zeros({steps, B}, torch::kLong);
  auto counts_neuron = torch::zeros({B, N}, torch::kLong);
  auto raster = record ? torch::empty({steps, B, N}, torch::kUInt8) : torch::empty({0}, torch::kUInt8);
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "reservoir_simulate", [&] {
    simulate_impl<scalar_t>(v.data_ptr<scalar_t>(), refrac.data_ptr<scalar_t>(), trace.data_ptr<scalar_t>(),
                            last_spikes.data_ptr<uint8_t>(), x.data_ptr<scalar_t>(), constant_drive,
                            beta.data_ptr<scalar_t>(), thr.data_ptr<scalar_t>(), beta.numel() == 1,
                            bias.has_value() ? bias->data_ptr<scalar_t>() : nullptr, crow.data_ptr<int64_t>(),
                            col.data_ptr<int32_t>(), val.data_ptr<scalar_t>(), static_cast<scalar_t>(v_reset),
                            refractory, static_cast<scalar_t>(trace_decay), steps, B, N,
                            static_cast<int>(threads), min_neurons, counts_step.data_ptr<int64_t>(),
                            counts_neuron.data_ptr<int64_t>(), record ? raster.data_ptr<uint8_t>() : nullptr);
  });
  return {counts_step, counts_neuron, raster};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("simulate", &simulate, "event-driven LIF reservoir simulation over many steps (CPU, in place)");
}
