// Lookup-table scan for byte codes: score_i = factor_i * sum_j lut[q, j, code[i, j]], top-k per query.
// The reference (same results up to float rounding) is the torch path of neuromorph.compress.rabitq.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <utility>
#include <vector>

std::vector<torch::Tensor> lut_topk(torch::Tensor lut, torch::Tensor codes, torch::Tensor factors, int64_t k) {
  TORCH_CHECK(lut.dim() == 3 && lut.size(2) == 256 && lut.scalar_type() == torch::kFloat32,
              "lut must be float32 [Q, bytes, 256]");
  TORCH_CHECK(codes.dim() == 2 && codes.scalar_type() == torch::kUInt8 && codes.size(1) == lut.size(1),
              "codes must be uint8 [N, bytes]");
  TORCH_CHECK(factors.dim() == 1 && factors.size(0) == codes.size(0) && factors.scalar_type() == torch::kFloat32,
              "factors must be float32 [N]");
  const int64_t nq = lut.size(0), nb = lut.size(1), n = codes.size(0);
  TORCH_CHECK(k >= 1 && k <= n, "k must be in [1, N]");
  lut = lut.contiguous(); codes = codes.contiguous(); factors = factors.contiguous();
  auto scores = torch::empty({nq, k}, torch::kFloat32);
  auto ids = torch::empty({nq, k}, torch::kInt64);
  const float* L = lut.data_ptr<float>();
  const uint8_t* C = codes.data_ptr<uint8_t>();
  const float* F = factors.data_ptr<float>();
  float* S = scores.data_ptr<float>();
  int64_t* I = ids.data_ptr<int64_t>();
  at::parallel_for(0, nq, 1, [&](int64_t q0, int64_t q1) {
    std::vector<std::pair<float, int64_t>> heap;       // min-heap of the best k (score, -id)
    heap.reserve(k + 1);
    auto worse = [](const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    for (int64_t q = q0; q < q1; ++q) {
      const float* T = L + q * nb * 256;
      heap.clear();
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t* c = C + i * nb;
        float acc = 0.f;
        for (int64_t j = 0; j < nb; ++j) acc += T[j * 256 + c[j]];
        acc *= F[i];
        if ((int64_t)heap.size() < k) {
          heap.emplace_back(acc, -i);
          std::push_heap(heap.begin(), heap.end(), worse);
        } else if (acc > heap.front().first) {        // ties keep the smaller id (seen first)
          std::pop_heap(heap.begin(), heap.end(), worse);
          heap.back() = {acc, -i};
          std::push_heap(heap.begin(), heap.end(), worse);
        }
      }
      std::sort_heap(heap.begin(), heap.end(), worse);
      for (int64_t r = 0; r < k; ++r) { S[q * k + r] = heap[r].first; I[q * k + r] = -heap[r].second; }
    }
  });
  return {scores, ids};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("lut_topk", &lut_topk, "top-k of factor * sum of LUT entries"); }
