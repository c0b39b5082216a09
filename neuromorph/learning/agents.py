"""A streaming actor-critic for one continuous lifetime: spiking (or non-spiking) e-prop with a TD third factor.

The agent sees one observation at a time, acts, and learns from that single transition: no replay buffer, no
batch, no autograd graph across time, and a memory that does not grow with the lifetime.

**Encoding** (population code, spiking input). Each feature ``o_i`` is standardised online with a running
mean/variance (Welford), ``z_i = clip((o_i - m_i) / sqrt(var_i + 1e-8), -c, c)``, and drives ``n_pop`` Gaussian
receptive fields with centres ``mu_j`` evenly spaced on ``[-c, c]`` and width ``sigma = 2c / (n_pop - 1)``:
``r_ij = exp(-(z_i - mu_j)^2 / (2 sigma^2))`` (:func:`neuromorph.encoding.gaussian_rates`). For spiking units
the rates drive deterministic integrate-and-fire input neurons, one sim step at a time:
``p <- p + r;  x = [p >= 1];  p <- p - x`` (spike counts follow the rates without sampling noise). Non-spiking
units read the rates ``r`` directly.

**Network.** Two populations of ``hidden`` units share the input (one for the actor, one for the critic, as two
networks in one matrix ``W1``); per sim step ``k`` (``sim_steps`` per env step, states carried across env steps
and reset at episode starts)::

    LIF:      v <- beta v + W1 x_k + b1;   s = H(v - theta);   v <- v - theta s     (subtract reset)
    tanh/relu: s = f(W1 r + b1)             (no state)
    readouts:  y_pi <- beta_o y_pi + W_pi s_actor + b_pi     (logits)
               y_V  <- beta_o y_V  + w_V  s_critic + b_V      (value)

**Gradients** (e-prop / OTTT, exactly what :class:`neuromorph.learning.online.OnlineLearner` computes for this
graph with a loss at the last sim step; ``tests/games/test_agent_rule.py`` checks it). For output gradients
``g = dJ/dy`` at the last sim step::

    dJ/dW_out = g  s_hat^T,          dJ/db_out = g c_o            s_hat <- beta_o s_hat + s,  c_o <- beta_o c_o + 1
    e         = (W_out^T g) * psi,   psi = 1 / (1 + (pi (v_pre - theta))^2)      (atan surrogate; f'(.) for tanh/relu)
    dJ/dW1    = e x_hat^T,           dJ/db1 = e c_h               x_hat <- beta x_hat + x, c_h <- beta c_h + 1

**Learning rule** (actor-critic with eligibility traces, AC(lambda), one trace per parameter)::

    delta_t = r_{t+1} + gamma (1 - terminated) V(S_{t+1}) - V(S_t)
    z_pi <- gamma lambda z_pi + d log pi(A_t | S_t) / d theta_pi,      z_V <- gamma lambda z_V + d V(S_t) / d theta_V
    theta_pi <- theta_pi + a_pi (delta_t z_pi + tau dH(pi(.|S_t)) / d theta_pi),  theta_V <- theta_V + a_V delta_t z_V

with the overshooting-bounded step size of Elsayed, Vasan & Mahmood (2024, "Streaming deep reinforcement
learning finally works"): ``a = lr / max(1, lr kappa max(|delta|, 1) ||z||_1)`` (``kappa_actor``,
``kappa_critic``), where ``||z||_1`` is replaced by its running upper bound
``b <- gamma lambda b + ||e||_1 (||x_hat||_1 + c_h) + ||g||_1 (||s_hat||_1 + c_o)`` (no pass over the matrix; the
step is never larger than with the exact norm). With ``step_bound = "layer"`` the bound and the step are taken
per layer (input, readout) of each network instead of per network. With ``scale_reward`` the rewards are first
divided by the running standard deviation of the discounted return (:class:`ReturnScaler`). Traces and neuron
states are zeroed at the start of every episode; weights never are. With ``action_repeat = k > 1`` the agent
decides every ``k`` env steps (frame skip): the action is held, ``r_{t+1}`` is the sum of the ``k`` rewards, and
``t`` (the TD step, ``gamma``, the traces and the entropy schedule) counts decisions.

**Refreshed value** (``refresh_value``, off by default). ``V(S_{t+1})`` is computed before the update of step
``t``, and the next TD error subtracts it as ``V(S_{t+1})``: the update's own change of the value is missing
from it but present in ``V(S_{t+2})``, so ``delta_{t+1}`` carries ``+ gamma dV``. When the critic leans on its
bias (a silent critic population), that is a positive feedback loop: the bias grows, ``delta`` grows with it,
the bias grows further. With ``refresh_value`` the update's change of the value readout is added back at once,
``V(S_{t+1}) += a_V delta (z_wV . s_hat + z_bV c_o)``, to the stored value and to the readout state ``y_V``,
so that ``y_V = w_V . s_hat + b_V c_o`` holds with the current readout at every step (exact for the readout;
the input layer's change is not re-simulated).

**Fixed critic features** (``critic_features = "fixed"``; default ``"learned"``). The semi-gradient TD update
shrinks a hidden unit's contribution to ``V`` where it does not predict the return: the unpredictable part of
``w_Vj s_j`` enters ``delta`` with a minus sign, so the expected input-layer step of unit ``j`` has a term of
sign ``-w_Vj^2 s_j psi_j``. A tanh unit shrinks towards 0, where it is most sensitive; a spiking (or ReLU) unit
can only shrink by firing less, and a silent unit has a small surrogate and no readout gradient, so silence is
absorbing and the value becomes the readout bias, ``V ~ b_V c_o`` (measured in Pong: ``docs/games.md``). With
fixed features the critic's input weights and biases keep their random initialisation (a fixed spiking feature
layer, like a reservoir) and only the value readout learns: the critic's input rows get no trace, no update and
no part in the critic's step bound, so its readout takes larger steps, and ``refresh_value`` is then exact.

**Shared features** (``critic_features = "shared"``). There is no critic population: the value readout reads
the actor's population, ``y_V <- beta_o y_V + w_V s_actor + b_V``, whose units stay active because the policy
gradient keeps them useful to the policy. The value's gradient is stopped at the readout (the TD error trains
``w_V, b_V`` only; the input layer learns from the policy gradient and the entropy term alone), so the silencing
pressure above never reaches the shared units. The network has ``hidden`` units instead of ``2 hidden`` (half the
input-layer work; the per-step fixed costs stay), and ``refresh_value`` is exact, as with fixed features.

**Cost per env step** is a handful of BLAS calls on the ``2H x n_in`` input matrix (one ``gemm`` over the ``K``
sim steps, ``scal`` + ``ger`` for its trace, ``axpy`` + ``ger`` for the update) plus vector work: the
network runs in numpy at batch 1, which is several times faster per step than the general
:class:`~neuromorph.learning.online.OnlineLearner` at ``K = 1``, whose result it reproduces.

>>> import numpy as np
>>> agent = StreamingActorCritic(n_features=3, n_actions=2, hidden=8, seed=0)
>>> agent.begin_episode()
>>> action = agent.act(np.zeros(3))
>>> action in (0, 1)
True
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from neuromorph.utils import check_bool, check_choice, check_non_negative_int, check_positive_int

UNITS = ("lif", "tanh", "relu")
STEP_BOUNDS = ("network", "layer")
CRITIC_FEATURES = ("learned", "fixed", "shared")


class RunningNorm:
    """Running mean and variance of a feature vector (Welford), and the clipped standard score.

    ``mean_n = mean_{n-1} + (x - mean_{n-1}) / n``, ``M2_n = M2_{n-1} + (x - mean_{n-1}) (x - mean_n)``,
    ``var = M2 / n``; ``normalize(x) = clip((x - mean) / sqrt(var + 1e-8), -clip, clip)``.

    >>> norm = RunningNorm(1, clip=3.0)
    >>> for v in (1.0, 3.0):
    ...     norm.update(np.array([v]))
    >>> norm.normalize(np.array([3.0])).round(3).tolist()
    [1.0]
    """

    def __init__(self, size: int, clip: float = 3.0) -> None:
        check_positive_int("size", size)
        if not (isinstance(clip, (int, float)) and clip > 0 and math.isfinite(clip)):
            raise ValueError(f"clip must be a positive finite number, got {clip!r}")
        self.clip = float(clip)
        self.count = 0
        self.mean = np.zeros(size, dtype=np.float64)
        self.m2 = np.zeros(size, dtype=np.float64)

    def update(self, x: np.ndarray) -> None:
        self.count += 1
        d = x - self.mean
        self.mean += d / self.count
        self.m2 += d * (x - self.mean)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / np.sqrt(self.m2 / max(self.count, 1) + 1e-8)
        return np.clip(z, -self.clip, self.clip, out=z)

    def state_dict(self) -> dict[str, Any]:
        return {"count": np.array(self.count), "mean": self.mean.copy(), "m2": self.m2.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = int(state["count"])
        self.mean[...] = state["mean"]
        self.m2[...] = state["m2"]


class ReturnScaler:
    """Reward scaling by the running standard deviation of the discounted return (Elsayed, Vasan & Mahmood 2024).

    Per reward: ``G <- gamma G + r`` (``G = 0`` at episode starts), the running variance of ``G`` is updated
    (:class:`RunningNorm`), and the agent learns from ``r / sqrt(var(G) + 1e-8)`` (no mean is subtracted).

    >>> scaler = ReturnScaler(gamma=0.0)
    >>> [round(scaler.scale(r), 3) for r in (1.0, 3.0)]
    [1.0, 3.0]
    """

    def __init__(self, gamma: float) -> None:
        self.gamma = float(gamma)
        self.stats = RunningNorm(1)
        self.ret = 0.0

    def begin_episode(self) -> None:
        self.ret = 0.0

    def scale(self, reward: float) -> float:
        self.ret = self.gamma * self.ret + reward
        self.stats.update(np.array([self.ret]))
        var = float(self.stats.m2[0]) / self.stats.count
        return reward / math.sqrt(var + 1e-8) if self.stats.count > 1 else reward


def bounded_step_size(lr: float, kappa: float, delta: float, trace_l1: float) -> float:
    """Overshooting-bounded step size ``lr / max(1, lr * kappa * max(|delta|, 1) * ||z||_1)``.

    >>> bounded_step_size(1.0, 2.0, 0.5, 0.1), bounded_step_size(1.0, 2.0, 2.0, 1.0)
    (1.0, 0.25)
    """
    return lr / max(1.0, lr * kappa * max(abs(delta), 1.0) * trace_l1)


@dataclass
class AgentConfig:
    """Hyper-parameters of :class:`StreamingActorCritic` (see the module docstring for the symbols).

    >>> cfg = AgentConfig(n_features=4, n_actions=2).check()
    >>> cfg.hidden, cfg.unit
    (128, 'lif')
    >>> try:
    ...     AgentConfig(n_features=4, n_actions=1).check()
    ... except ValueError as err:
    ...     print(err)
    n_actions must be an int >= 2, got 1
    """

    n_features: int
    n_actions: int
    hidden: int = 128  # units per population (actor and critic each; one population with shared critic features)
    unit: str = "lif"  # "lif" (spiking), "tanh" or "relu" (non-spiking, same rule and size)
    n_pop: int = 10  # receptive fields per feature
    sim_steps: int = 2  # network steps per env step
    beta: float = 0.8  # LIF membrane decay per sim step
    readout_beta: float = 0.5  # readout integrator decay per sim step
    threshold: float = 1.0
    obs_clip: float = 3.0  # c: standard scores clipped to [-c, c], field centres span it
    gamma: float = 0.99
    lam: float = 0.8
    lr: float = 1.0
    kappa_actor: float = 3.0
    kappa_critic: float = 2.0
    entropy: float = 0.01  # tau
    entropy_half_life: int = 0  # > 0: tau_t = tau / (1 + t / half_life) at agent step t; 0: constant tau
    init_scale: float = 1.0  # input weights ~ U(-s, s) * sqrt(3 / active inputs)
    init_density: float = 1.0  # fraction of non-zero input weights at initialisation
    scale_reward: bool = False  # divide rewards by the running std of the discounted return (Elsayed et al.)
    action_repeat: int = 1  # env steps per decision: the action is held and the rewards summed (frame skip)
    step_bound: str = "network"  # ||z||_1 of the step-size bound: per network (actor, critic) or per "layer"
    refresh_value: bool = False  # after each update, V(S_t) and the value readout's state use the new readout
    critic_features: str = "learned"  # "fixed": critic input weights stay random; "shared": V reads the actor

    def check(self) -> "AgentConfig":
        for name in ("n_features", "hidden", "n_pop", "sim_steps", "action_repeat"):
            value = getattr(self, name)
            check_positive_int(name, value)
        if not isinstance(self.n_actions, int) or isinstance(self.n_actions, bool) or self.n_actions < 2:
            raise ValueError(f"n_actions must be an int >= 2, got {self.n_actions!r}")
        if self.n_pop < 2:
            raise ValueError(f"n_pop must be >= 2, got {self.n_pop}")
        check_choice("unit", self.unit, UNITS)
        check_choice("step_bound", self.step_bound, STEP_BOUNDS)
        check_choice("critic_features", self.critic_features, CRITIC_FEATURES)
        for name in ("beta", "readout_beta", "gamma", "lam"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        for name in ("threshold", "obs_clip", "lr", "kappa_actor", "kappa_critic", "init_scale"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if not (self.entropy >= 0 and math.isfinite(self.entropy)):
            raise ValueError(f"entropy must be a finite number >= 0, got {self.entropy!r}")
        check_non_negative_int("entropy_half_life", self.entropy_half_life)
        check_bool("scale_reward", self.scale_reward)
        check_bool("refresh_value", self.refresh_value)
        if not 0.0 < self.init_density <= 1.0:
            raise ValueError(f"init_density must be in (0, 1], got {self.init_density!r}")
        return self

    @classmethod
    def with_defaults(cls, saved: dict[str, Any]) -> dict[str, Any]:
        """A config dict saved before some options existed, completed with those options' defaults (the values
        the saved run used), so that older checkpoints still compare equal to the same configuration.

        >>> AgentConfig.with_defaults({"n_features": 4, "n_actions": 2})["entropy_half_life"]
        0
        """
        defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
        return {**defaults, **saved}


# parameter names, in a fixed order; "1" = input layer (actor rows [:H], critic rows [H:] unless shared)
PARAMS = ("w1", "b1", "w_pi", "b_pi", "w_v", "b_v")


class StreamingActorCritic:
    """Single-stream actor-critic agent (module docstring). Batch 1, numpy, one transition at a time.

    Use: :meth:`begin_episode`, then ``a = act(obs)`` for the first observation, ``a = act(obs, reward)`` after
    every non-final env step, and :meth:`end_episode` with the last reward. ``seed`` fixes the initial weights
    and the action sampling.

    >>> agent = StreamingActorCritic(n_features=3, n_actions=2, hidden=8, seed=0)
    >>> agent.begin_episode()
    >>> actions = [agent.act(np.zeros(3)), agent.act(np.ones(3), reward=1.0)]
    >>> agent.end_episode(reward=0.0)
    >>> all(a in (0, 1) for a in actions)
    True
    """

    def __init__(self, n_features: int, n_actions: int, seed: int = 0, dtype: Any = np.float32, **config: Any) -> None:
        self.config = AgentConfig(n_features=n_features, n_actions=n_actions, **config).check()
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        cfg = self.config
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng(seed)
        self.n_in = n_features * cfg.n_pop
        self.spiking = cfg.unit == "lif"
        H = cfg.hidden
        self.n_hidden = H if cfg.critic_features == "shared" else 2 * H  # actor rows, then the critic's if any
        self._learned_rows = 2 * H if cfg.critic_features == "learned" else H  # input-layer rows that learn
        self.critic_rows = slice(0, H) if cfg.critic_features == "shared" else slice(H, 2 * H)  # rows V reads
        self.norm = RunningNorm(n_features, cfg.obs_clip)
        self.reward_scaler = ReturnScaler(cfg.gamma) if cfg.scale_reward else None
        self.centres = np.linspace(-cfg.obs_clip, cfg.obs_clip, cfg.n_pop)
        self.sigma = 2 * cfg.obs_clip / (cfg.n_pop - 1)
        # about 2.5 fields of every feature are active; currents of std ~ init_scale
        bound = cfg.init_scale * math.sqrt(3.0 / (2.5 * n_features * cfg.init_density))
        w1 = self.rng.uniform(-bound, bound, (self.n_hidden, self.n_in))
        w1 *= self.rng.random((self.n_hidden, self.n_in)) < cfg.init_density
        self.params: dict[str, np.ndarray] = {
            "w1": w1.astype(self.dtype),
            "b1": np.zeros(self.n_hidden, self.dtype),
            "w_pi": np.zeros((n_actions, H), self.dtype),
            "b_pi": np.zeros(n_actions, self.dtype),
            "w_v": np.zeros((1, H), self.dtype),
            "b_v": np.zeros(1, self.dtype),
        }
        self.traces = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._scal, self._axpy, self._ger = get_blas_funcs(("scal", "axpy", "ger"), (self.params["w1"],))
        self.state: dict[str, Any] = {}
        K = cfg.sim_steps
        self._ks = np.arange(1, K + 1, dtype=self.dtype)[:, None]
        self._pow_h = (cfg.beta ** np.arange(K - 1, -1, -1)).astype(self.dtype)  # beta^(K-1-k)
        self._pow_o = (cfg.readout_beta ** np.arange(K - 1, -1, -1)).astype(self.dtype)
        self._decay_h, self._sum_h = cfg.beta**K, float(self._pow_h.sum())
        self._decay_o, self._sum_o = cfg.readout_beta**K, float(self._pow_o.sum())
        self.steps = 0
        self._pending = False  # a transition waiting for its TD error
        self._value = 0.0  # V(S_t) of the pending transition
        self.last_delta = 0.0
        self.begin_episode()

    # ------------------------------------------------------------------------------------ forward
    def encode(self, obs: np.ndarray, update: bool = True) -> np.ndarray:
        """Observation -> population rates ``[n_features * n_pop]`` (updates the running statistics)."""
        obs = np.asarray(obs, dtype=np.float64).reshape(-1)
        if obs.shape[0] != self.config.n_features:
            raise ValueError(f"obs must have {self.config.n_features} features, got shape {obs.shape}")
        if not math.isfinite(float(obs.sum())):
            raise ValueError("obs must be finite")
        if update:
            self.norm.update(obs)
        z = self.norm.normalize(obs)
        d = z[:, None] - self.centres
        d *= d
        d *= -0.5 / self.sigma**2
        return np.exp(d, out=d).astype(self.dtype).reshape(-1)

    def input_spikes(self, rates: np.ndarray) -> np.ndarray:
        """Deterministic integrate-and-fire input spikes ``[sim_steps, n_in]`` for the rates (advances the phase
        ``p``): with ``P_k = p + k r``, ``x_k = floor(P_k) - floor(P_{k-1})`` equals ``p <- p + r; x = [p >= 1];
        p <- p - x`` step by step (``0 <= r <= 1``)."""
        phase = self.state["phase"]
        cum = phase + rates * self._ks
        whole = np.floor(cum)
        phase[...] = cum[-1] - whole[-1]
        whole[1:] -= whole[:-1].copy()
        return whole

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """Run the network on one env step's input ``[sim_steps, n_in]`` (spikes, or rates ``[1, n_in]`` for
        non-spiking units); returns ``(logits, value)`` at the last sim step and keeps what the gradients need.

        Within an env step the weights are constant, so the linear parts run once over the ``K`` sim steps:
        ``x_hat <- beta^K x_hat + sum_k beta^(K-1-k) x_k`` (same for ``s_hat`` with ``beta_o``) and
        ``y <- beta_o^K y + W_out inc + b_out sum_k beta_o^(K-1-k)`` with ``inc = sum_k beta_o^(K-1-k) s_k``;
        only the LIF membrane runs step by step."""
        cfg, st, p = self.config, self.state, self.params
        H = cfg.hidden
        if self.spiking:
            x_hat = st["x_hat"]
            x_hat *= self._decay_h
            x_hat += self._pow_h @ x
            st["c_h"] = self._decay_h * st["c_h"] + self._sum_h
            current = p["w1"] @ x.T
            current += p["b1"][:, None]
            v, thr = st["v"], cfg.threshold
            spikes = np.empty_like(current)
            for k in range(cfg.sim_steps):
                v *= cfg.beta
                v += current[:, k]
                u = v - thr
                s_k = spikes[:, k]
                np.greater(u, 0.0, out=s_k, casting="unsafe")
                v -= thr * s_k
            inc = spikes @ self._pow_o
            self.last_spikes = spikes  # [n_hidden, K], actor rows first: what diagnostics read
            self._psi = 1.0 / (1.0 + np.square(np.pi * u))
        else:
            pre = p["w1"] @ x[-1] + p["b1"]
            if cfg.unit == "tanh":
                s = np.tanh(pre)
                self._psi = 1.0 - s * s
            else:
                s = np.maximum(pre, 0.0)
                self._psi = (pre > 0).astype(self.dtype)
            st["x_hat"][...] = x[-1]
            st["c_h"] = 1.0
            inc = s * self._sum_o
        s_hat, y = st["s_hat"], st["y"]
        s_hat *= self._decay_o
        s_hat += inc
        st["c_o"] = self._decay_o * st["c_o"] + self._sum_o
        y *= self._decay_o
        y[:-1] += p["w_pi"] @ inc[:H] + self._sum_o * p["b_pi"]
        y[-1] += float(p["w_v"][0] @ inc[self.critic_rows]) + self._sum_o * float(p["b_v"][0])
        return y[:-1].copy(), float(y[-1])

    def hidden_signal(self, g_logits: np.ndarray, g_value: float) -> np.ndarray:
        """Learning signal of the hidden units ``e = (W_out^T g) * psi`` at the last :meth:`forward` (with shared
        critic features both readouts' signals reach the one population)."""
        H = self.config.hidden
        e = np.zeros(self.n_hidden, self.dtype)
        e[:H] = g_logits @ self.params["w_pi"]
        e[self.critic_rows] += g_value * self.params["w_v"][0]
        e *= self._psi
        return e

    def gradients(self, g_logits: np.ndarray, g_value: float) -> dict[str, np.ndarray]:
        """Dense ``dJ/dtheta`` for output gradients ``g_logits = dJ/dlogits`` and ``g_value = dJ/dV`` at the last
        :meth:`forward` (module docstring); the learning step uses the same terms without materialising them
        (except the input-layer terms of ``g_value`` with fixed or shared critic features, which it stops)."""
        H, st = self.config.hidden, self.state
        s_hat, c_o = st["s_hat"], st["c_o"]
        e = self.hidden_signal(g_logits, g_value)
        return {
            "w1": np.outer(e, st["x_hat"]),
            "b1": e * st["c_h"],
            "w_pi": np.outer(g_logits, s_hat[:H]),
            "b_pi": g_logits * c_o,
            "w_v": (g_value * s_hat[self.critic_rows])[None, :],
            "b_v": np.array([g_value * c_o], self.dtype),
        }

    # ------------------------------------------------------------------------------------ learning
    def begin_episode(self) -> None:
        """Zero neuron states, presynaptic and eligibility traces (weights and statistics are kept)."""
        dt = self.dtype
        self.state = {
            "phase": np.zeros(self.n_in, dt),
            "v": np.zeros(self.n_hidden, dt),
            "x_hat": np.zeros(self.n_in, dt),
            "c_h": 0.0,
            "s_hat": np.zeros(self.n_hidden, dt),
            "c_o": 0.0,
            "y": np.zeros(self.config.n_actions + 1, dt),
        }
        for z in self.traces.values():
            z[...] = 0.0
        if self.reward_scaler is not None:
            self.reward_scaler.begin_episode()
        self._l1 = [0.0, 0.0]  # upper bounds of ||z_pi||_1 and ||z_V||_1
        self._l1_layer = [0.0, 0.0, 0.0, 0.0]  # step_bound "layer": input and readout of the actor, then critic
        self._pending = False
        self._hold = 0  # env steps the last action is still held for (action_repeat)
        self._action = 0  # the action being held
        self._held_reward = 0.0  # rewards of the env steps held so far

    def _policy(self, logits: np.ndarray) -> np.ndarray:
        if not math.isfinite(float(logits.sum())):
            raise FloatingPointError("the policy logits became non-finite; lower lr")
        e = np.exp(logits - logits.max())
        return e / e.sum()

    def _td_update(self, reward: float, next_value: float, terminated: bool) -> float:
        """Apply the TD update of the pending transition; returns the change of ``V(S_{t+1})`` under the new
        value readout when ``refresh_value`` is on (the readout state already includes it), else 0."""
        cfg, p, z = self.config, self.params, self.traces
        H = cfg.hidden
        if self.reward_scaler is not None:
            reward = self.reward_scaler.scale(float(reward))
        delta = float(reward) + (0.0 if terminated else cfg.gamma * next_value) - self._value
        if not math.isfinite(delta):
            raise FloatingPointError(f"TD error became non-finite ({delta}); lower lr")
        self.last_delta = delta
        if cfg.step_bound == "layer":
            l1 = self._l1_layer
            a_pi, a_pi_out = (bounded_step_size(cfg.lr, cfg.kappa_actor, delta, b) for b in l1[:2])
            a_v, a_v_out = (bounded_step_size(cfg.lr, cfg.kappa_critic, delta, b) for b in l1[2:])
        else:
            a_pi = a_pi_out = bounded_step_size(cfg.lr, cfg.kappa_actor, delta, self._l1[0])
            a_v = a_v_out = bounded_step_size(cfg.lr, cfg.kappa_critic, delta, self._l1[1])
        w1 = p["w1"]
        self._axpy(z["w1"][:H].reshape(-1), w1[:H].reshape(-1), a=a_pi * delta)
        p["b1"][:H] += (a_pi * delta) * z["b1"][:H]
        if self._learned_rows > H:
            self._axpy(z["w1"][H:].reshape(-1), w1[H:].reshape(-1), a=a_v * delta)
            p["b1"][H:] += (a_v * delta) * z["b1"][H:]
        p["w_pi"] += (a_pi_out * delta) * z["w_pi"]
        p["b_pi"] += (a_pi_out * delta) * z["b_pi"]
        p["w_v"] += (a_v_out * delta) * z["w_v"]
        p["b_v"] += (a_v_out * delta) * z["b_v"]
        refreshed = 0.0
        if cfg.refresh_value:  # the value readout's change at S_{t+1}, whose state is in s_hat, c_o
            st = self.state
            s_v = st["s_hat"][self.critic_rows]
            refreshed = (a_v_out * delta) * (float(z["w_v"][0] @ s_v) + float(z["b_v"][0]) * st["c_o"])
            st["y"][-1] += refreshed
        if cfg.entropy > 0:  # entropy ascent at S_t, same step sizes, no trace
            e_h, x_hat, c_h, g_h, s_hat, c_o = self._entropy_terms
            tau = self.entropy_coefficient()
            step, step_out = a_pi * tau, a_pi_out * tau
            self._ger(step, x_hat, e_h, a=w1[:H].T, overwrite_a=True)
            p["b1"][:H] += (step * c_h) * e_h
            p["w_pi"] += step_out * np.outer(g_h, s_hat)
            p["b_pi"] += (step_out * c_o) * g_h
        return refreshed

    def entropy_coefficient(self) -> float:
        """The entropy weight now: ``tau`` or, with ``entropy_half_life = h > 0``, ``tau / (1 + t / h)`` after
        ``t`` agent steps (halved at ``t = h``, a third at ``2 h``: strong exploration while the policy is young).

        >>> agent = StreamingActorCritic(n_features=2, n_actions=2, hidden=4, entropy=0.01, entropy_half_life=100)
        >>> agent.steps = 100
        >>> agent.entropy_coefficient()
        0.005
        """
        cfg = self.config
        if cfg.entropy_half_life == 0:
            return cfg.entropy
        return cfg.entropy / (1.0 + self.steps / cfg.entropy_half_life)

    def _accumulate(self, g_logits: np.ndarray) -> None:
        """Eligibility traces ``z <- gamma lambda z + d(log pi(A|S) + V(S))/dtheta`` (actor and critic blocks are
        disjoint, so one pass serves both) and the running bounds of ``||z||_1`` per block. With fixed critic
        features the critic's input rows have no trace (it stays zero) and no part in the bound; with shared
        features the input-layer trace is the actor's alone (the value's gradient is stopped at the readout)."""
        cfg, z, st = self.config, self.traces, self.state
        H, d, rows = cfg.hidden, cfg.gamma * cfg.lam, self._learned_rows
        e = self.hidden_signal(g_logits, 1.0 if rows > H else 0.0)[:rows]
        x_hat, c_h, s_hat, c_o = st["x_hat"], st["c_h"], st["s_hat"], st["c_o"]
        self._scal(d, z["w1"][:rows].reshape(-1))
        self._ger(1.0, x_hat, e, a=z["w1"][:rows].T, overwrite_a=True)
        z["b1"][:rows] *= d
        z["b1"][:rows] += c_h * e
        z["w_pi"] *= d
        z["w_pi"] += np.outer(g_logits, s_hat[:H])
        z["b_pi"] *= d
        z["b_pi"] += c_o * g_logits
        z["w_v"] *= d
        z["w_v"][0] += s_hat[self.critic_rows]
        z["b_v"] *= d
        z["b_v"] += c_o
        # ||d z + g||_1 <= d ||z||_1 + ||g||_1, and ||e x^T||_1 = ||e||_1 ||x||_1. x_hat >= 0 (spikes or rates);
        # s_hat >= 0 for spikes and ReLU but takes both signs for tanh units, so its norm takes absolute values
        x_l1, abs_e, g_l1 = float(x_hat.sum()) + c_h, np.abs(e), float(np.abs(g_logits).sum())
        s_l1 = (float(np.abs(s_hat[:H]).sum()), float(np.abs(s_hat[self.critic_rows]).sum()))
        self._l1[0] = d * self._l1[0] + float(abs_e[:H].sum()) * x_l1 + g_l1 * (s_l1[0] + c_o)
        self._l1[1] = d * self._l1[1] + float(abs_e[H:].sum()) * x_l1 + s_l1[1] + c_o
        if cfg.step_bound == "layer":
            l1 = self._l1_layer
            l1[0] = d * l1[0] + float(abs_e[:H].sum()) * x_l1
            l1[1] = d * l1[1] + g_l1 * (s_l1[0] + c_o)
            l1[2] = d * l1[2] + float(abs_e[H:].sum()) * x_l1
            l1[3] = d * l1[3] + s_l1[1] + c_o

    def act(self, obs: np.ndarray, reward: float | None = None) -> int:
        """Observe ``S_t`` (and the reward ``r_t`` of the previous action, if any), learn from the previous
        transition, and return ``A_t`` sampled from ``pi(.|S_t)``."""
        if reward is not None and not math.isfinite(float(reward)):
            raise ValueError(f"reward must be finite, got {reward!r}")
        if self._pending and reward is None:
            raise ValueError("reward of the previous action is missing (pass act(obs, reward))")
        if self._hold > 0:  # action_repeat: keep the action, collect the reward, no decision
            self._hold -= 1
            self._held_reward += float(reward)  # type: ignore[arg-type]  # pending, so reward was given
            return self._action
        if reward is not None:
            reward = self._held_reward + float(reward)
        rates = self.encode(obs)
        x = self.input_spikes(rates) if self.spiking else rates[None, :]
        logits, value = self.forward(x)
        if self._pending:
            assert reward is not None  # checked above
            value += self._td_update(float(reward), value, terminated=False)
        pi = self._policy(logits)
        self.last_policy = pi
        action = min(int(np.searchsorted(np.cumsum(pi), self.rng.random(), side="right")), self.config.n_actions - 1)
        g_logp = -pi.astype(self.dtype)
        g_logp[action] += 1.0
        self._accumulate(g_logp)
        if self.config.entropy > 0:
            H, st = self.config.hidden, self.state
            log_pi = np.log(np.maximum(pi, 1e-12))
            g_h = (-pi * (log_pi + float(-(pi * log_pi).sum()))).astype(self.dtype)
            self._entropy_terms = (
                self.hidden_signal(g_h, 0.0)[:H],
                st["x_hat"].copy(),
                st["c_h"],
                g_h,
                st["s_hat"][:H].copy(),
                st["c_o"],
            )
        self._value = value
        self._pending = True
        self.steps += 1
        self._action, self._hold, self._held_reward = action, self.config.action_repeat - 1, 0.0
        return action

    def end_episode(self, reward: float, terminated: bool = True, last_obs: np.ndarray | None = None) -> None:
        """Learn from the final transition: ``V(S_T) = 0`` when ``terminated``, else (time limit) it is the
        network's estimate on ``last_obs``; then :meth:`begin_episode`."""
        if not math.isfinite(float(reward)):
            raise ValueError(f"reward must be finite, got {reward!r}")
        reward = self._held_reward + float(reward)
        if self._pending:
            next_value = 0.0
            if not terminated:
                if last_obs is None:
                    raise ValueError("last_obs is needed when the episode ends without terminating")
                rates = self.encode(last_obs)
                _, next_value = self.forward(self.input_spikes(rates) if self.spiking else rates[None, :])
            self._td_update(float(reward), next_value, terminated)
        self.begin_episode()

    # ------------------------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the lifetime exactly at an episode boundary."""
        if self._pending:
            raise RuntimeError("state_dict() is taken between episodes (after end_episode)")
        out: dict[str, Any] = {f"param.{k}": v.copy() for k, v in self.params.items()}
        out.update({f"norm.{k}": v for k, v in self.norm.state_dict().items()})
        if self.reward_scaler is not None:
            out.update({f"return_norm.{k}": v for k, v in self.reward_scaler.stats.state_dict().items()})
        out["steps"] = np.array(self.steps)
        out["config"] = asdict(self.config)
        out["rng"] = self.rng.bit_generator.state
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if AgentConfig.with_defaults(state["config"]) != asdict(self.config):
            raise ValueError(f"checkpoint config {state['config']} differs from this agent's {asdict(self.config)}")
        for k, v in self.params.items():
            if state[f"param.{k}"].shape != v.shape:
                raise ValueError(f"checkpoint parameter {k} has shape {state[f'param.{k}'].shape}, expected {v.shape}")
            v[...] = state[f"param.{k}"]
        self.norm.load_state_dict({k: state[f"norm.{k}"] for k in ("count", "mean", "m2")})
        if self.reward_scaler is not None:
            self.reward_scaler.stats.load_state_dict({k: state[f"return_norm.{k}"] for k in ("count", "mean", "m2")})
        self.steps = int(state["steps"])
        self.rng.bit_generator.state = state["rng"]
        self.begin_episode()
