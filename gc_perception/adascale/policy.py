"""AdaScale policy: device conditions + per-node goals + branch profiles -> branch and placement.

Pure (no ROS, no I/O, time is an argument), so every rule is table-tested (test/test_policy.py).

Candidates: every branch of a node's model x every core placement. A placement puts stage A (the
gate) and stage B on core classes: both on efficiency, A on efficiency and B on performance (the
GC split), both on performance, or both on "any" core. A pinned stage gets all CPUs of its class
and as many intra-op threads; an "any" stage gets every CPU and one thread, and the kernel moves
it to whichever core is free, which on a busy machine with look-alike cores is often fastest.
Each is applied as the profiler measured it.

Prediction of a candidate:
- latency_ms, the worst path (stage A + stage B, as for a positive input) at p95, since a
  deadline is about the tail: sum over stages of the profiled median x slowdown(CPUs of the
  stage) x online correction, plus the node's observed overhead outside the stages (decode,
  preprocess). The profile's median, not its p95: a p95 of a few dozen timed runs is mostly
  noise (on this project's VM it ranked placements at random); the tail is in the correction,
  which compares the observed p95 with this prediction.
  slowdown = 1 + u, u = share of those CPUs busy with OTHER work: the device reading minus the
  managed nodes' own load, plus the other managed nodes' load (as planned for those decided
  before, as running for the rest); mean over a pinned stage's CPUs, the least busy CPU for an
  "any" stage (the kernel moves it there). This is Linux fair sharing: a core busy u of the
  time with other runnable work leaves us 1/(1+u) of it. The queueing form 1/(1-u) explodes
  near 100% and over-predicts a CPU-bound competitor. What this model gets wrong is measured online
  (profiles.LatencyCorrections).
- energy_mj, an ESTIMATE per input: cpu_ms_A x busy W(class A) + pass_rate x cpu_ms_B x busy
  W(class B) (gc_perception.adascale.energy; CPU time does not grow with time sharing); an "any"
  stage is charged at the costliest class, as the detectors' own estimate does.
- accuracy: the branch's figure from its evaluation (None: unknown, fails any floor > 0).
- memory_bytes: the branch's footprint from its profile.

Modes, each with a clear margin so a reading hovering at a mark does not toggle it:
- energy saving: battery <= battery_low_percent while not plugged, or temperature >=
  temperature_high_celsius, or thermal throttling;
- memory saving: memory use >= memory_high_percent.

Choice, node by node in priority order (highest first):
1. Admissible: footprint within the node's memory budget and, for a switch, device memory use
   kept below memory_high_percent; latency <= budget; accuracy >= min_accuracy.
2. Best admissible by the mode: normal = most accurate, then fastest (the most deadline
   headroom); energy saving = least energy, then most accurate; memory saving = smallest
   footprint first. Energy does not break ties in normal mode: where pinning buys no speed (a
   homogeneous machine with declared classes) it only takes the kernel's freedom to move the
   stage off a busy core, which on this project's 2-core VM cost more deadline misses under
   contention than anything else.
3. Nothing admissible: keep the deadline and give up the accuracy floor (most accurate that
   fits); if no branch fits the deadline either, the fastest.
Hysteresis: a node changed less than dwell_s ago is left alone; a candidate other than the
current one must fit the budget with switch_margin to spare, and must beat the current choice
by switch_margin on latency, energy or memory when that is what it is chosen for (any gain in
accuracy counts); the current choice stays while it meets its constraints and nothing is
better by those margins. Near ties between candidates go to the current choice, then to the
first placement in PLACEMENTS.
Every decision carries a human-readable reason.

How a placement takes effect (gc_perception.gating.stage_executor): each stage of a detector has
its own worker thread, which creates the stage's onnxruntime sessions, so their intra-op pool
threads inherit its affinity; the pool's thread ids are found in /proc/self/task and every one
of them, worker included, is pinned with sched_setaffinity; the pool is sized to the CPU set.
Limits: pinning reserves nothing (unpinned processes still share those cores, hence the load
model); a pinned stage cannot escape a busy core; the node's other threads (ROS executor, image
decoding) are not pinned; a new thread count recreates the stage's sessions; Linux only; on a
homogeneous machine (this project's 2-core VM) the core classes are declared in
config/device.yaml, so placements differ in the energy ESTIMATE only.
Memory: the footprint of a choice is that of its branch alone; a detector that keeps earlier
branches loaded (GatedModel does, for fast switch-back) frees nothing when it moves to a
smaller one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gc_perception.adascale.cpu_affinity import format_cpu_list
from gc_perception.adascale.energy import CorePower
from gc_perception.adascale.profiles import (
    ANY_CORE,
    BranchProfile,
    class_cpus,
    class_threads,
    profiled_classes,
)
from gc_perception.adascale.topology import EFFICIENCY, PERFORMANCE, CoreTopology
from gc_perception.monitor.device_state import DeviceState

MB = 1_000_000


@dataclass(frozen=True)
class Goal:
    """What a managed node must achieve; priority orders nodes competing for the same cores."""

    latency_budget_ms: float
    min_accuracy: float = 0.0
    priority: int = 0
    memory_budget_mb: float | None = None

    def __post_init__(self) -> None:
        if self.latency_budget_ms <= 0:
            raise ValueError(f"latency_budget_ms must be > 0, got {self.latency_budget_ms}")
        if not 0.0 <= self.min_accuracy <= 1.0:
            raise ValueError(f"min_accuracy must be in [0, 1], got {self.min_accuracy}")
        if self.memory_budget_mb is not None and self.memory_budget_mb <= 0:
            raise ValueError(f"memory_budget_mb must be > 0, got {self.memory_budget_mb}")


def goals_from_config(data: Mapping[str, Any], namespace: str = "/") -> dict[str, Goal]:
    """{fully qualified node name: Goal} from the goals YAML's `nodes` mapping.

    Relative node names are resolved in `namespace` (the manager's), so one goals file serves
    every device of a fleet. A node's `model` key is for the profiler and is not a goal.
    """
    nodes = data.get("nodes")
    if not isinstance(nodes, Mapping) or not nodes:
        raise ValueError("goals: expected a non-empty `nodes` mapping")
    known = set(Goal.__dataclass_fields__)
    goals = {}
    for name, fields in nodes.items():
        if not isinstance(fields, Mapping):
            raise ValueError(f"goals: node {name!r}: expected a mapping")
        unknown = set(fields) - known - {"model"}
        if unknown:
            raise ValueError(f"goals: node {name!r}: unknown keys {sorted(unknown)}")
        try:
            goals[resolve_node_name(name, namespace)] = Goal(
                **{k: v for k, v in fields.items() if k in known})
        except (TypeError, ValueError) as error:
            raise ValueError(f"goals: node {name!r}: {error}") from error
    return goals


def resolve_node_name(name: str, namespace: str = "/") -> str:
    """Fully qualified node name: an absolute name as given, a relative one in `namespace`."""
    name = name.strip()
    return name if name.startswith("/") else f"{namespace.rstrip('/')}/{name}"


@dataclass(frozen=True)
class Placement:
    """Core classes of stage A (the gate) and stage B."""

    stage_a: str
    stage_b: str

    def label(self) -> str:
        return f"A:{self.stage_a[:4]}/B:{self.stage_b[:4]}"


# In order of preference when candidates tie: unpinned first (it constrains the kernel least).
PLACEMENTS = (
    Placement(ANY_CORE, ANY_CORE),
    Placement(EFFICIENCY, EFFICIENCY),
    Placement(EFFICIENCY, PERFORMANCE),
    Placement(PERFORMANCE, PERFORMANCE),
)


@dataclass(frozen=True)
class Choice:
    """A branch and a placement; placement None = as the node runs now, not set by us."""

    branch: str
    placement: Placement | None

    def label(self) -> str:
        where = self.placement.label() if self.placement else "unmanaged CPUs"
        return f"{self.branch} @ {where}"


def stage_parameters(choice: Choice, topology: CoreTopology) -> dict[str, Any]:
    """The detector parameters that put a choice into effect (CPU lists and thread counts)."""
    assert choice.placement is not None, "an unmanaged placement cannot be applied"
    values: dict[str, Any] = {"branch": choice.branch}
    for stage, core_class in (("a", choice.placement.stage_a), ("b", choice.placement.stage_b)):
        values[f"stage_{stage}_cpus"] = format_cpu_list(class_cpus(topology, core_class))
        values[f"stage_{stage}_threads"] = class_threads(topology, core_class)
    return values


@dataclass(frozen=True)
class Prediction:
    latency_ms: float
    accuracy: float | None
    energy_mj: float
    memory_bytes: int
    stages_ms: tuple[float, float] = (0.0, 0.0)  # the load model alone: stage A, stage B

    def to_dict(self) -> dict[str, Any]:
        return {"latency_ms": round(self.latency_ms, 3), "accuracy": self.accuracy,
                "energy_mj": round(self.energy_mj, 4), "memory_mb": self.memory_bytes / MB}


@dataclass(frozen=True)
class Conditions:
    """What the policy reads of the device: per-CPU busy share (0-1, index = CPU id) etc."""

    cpu_busy: tuple[float, ...]
    memory_percent: float = 0.0
    memory_total_bytes: int = 0
    battery_percent: float | None = None
    battery_plugged: bool | None = None
    temperature_celsius: float | None = None
    throttling: bool | None = None

    def summary(self) -> str:
        busy = ", ".join(f"cpu{c} {b:.0%}" for c, b in enumerate(self.cpu_busy))
        parts = [busy, f"mem {self.memory_percent:.0f}%"]
        if self.battery_percent is not None:
            plug = "plugged" if self.battery_plugged else "on battery"
            parts.append(f"battery {self.battery_percent:.0f}% {plug}")
        if self.temperature_celsius is not None:
            parts.append(f"{self.temperature_celsius:.0f} C")
        return ", ".join(parts)


def conditions_from_state(state: DeviceState) -> Conditions:
    return Conditions(
        cpu_busy=tuple(min(1.0, max(0.0, p / 100.0)) for p in state.cpu.per_core_percent),
        memory_percent=state.memory.percent,
        memory_total_bytes=state.memory.total_bytes,
        battery_percent=state.battery.percent,
        battery_plugged=state.battery.plugged,
        temperature_celsius=state.thermal.max_celsius,
        throttling=state.thermal.throttling,
    )


def smooth(previous: Conditions | None, new: Conditions, weight: float) -> Conditions:
    """`new` with its CPU busy shares averaged into `previous` (EWMA, weight of the new one)."""
    if previous is None or len(previous.cpu_busy) != len(new.cpu_busy):
        return new
    busy = tuple(p + weight * (n - p) for p, n in zip(previous.cpu_busy, new.cpu_busy,
                                                       strict=True))
    return replace(new, cpu_busy=busy)


@dataclass(frozen=True)
class Settings:
    dwell_s: float = 10.0
    switch_margin: float = 0.15
    battery_low_percent: float = 20.0
    temperature_high_celsius: float = 80.0
    memory_high_percent: float = 85.0
    battery_clear_percent: float = 5.0
    temperature_clear_celsius: float = 5.0
    memory_clear_percent: float = 5.0


@dataclass(frozen=True)
class Modes:
    """The policy's operating modes and what caused them."""

    energy_saving: bool = False
    memory_saving: bool = False
    causes: tuple[str, ...] = ()

    def label(self) -> str:
        names = [n for n, on in (("energy saving", self.energy_saving),
                                 ("memory saving", self.memory_saving)) if on]
        return " + ".join(names) or "normal"


def resolve_modes(conditions: Conditions, settings: Settings, previous: Modes) -> Modes:
    """The modes now; a mode that is on needs its reading back past the clear margin to end."""
    energy = _energy_causes(conditions, settings, previous.energy_saving)
    memory_mark = settings.memory_high_percent - (
        settings.memory_clear_percent if previous.memory_saving else 0.0)
    memory = []
    if conditions.memory_percent >= memory_mark:
        memory.append(f"memory {conditions.memory_percent:.0f}% "
                      f"(high at {settings.memory_high_percent:g}%)")
    return Modes(energy_saving=bool(energy), memory_saving=bool(memory),
                 causes=tuple(energy + memory))


def _energy_causes(conditions: Conditions, settings: Settings, saving: bool) -> list[str]:
    causes = []
    battery = conditions.battery_percent
    low_mark = settings.battery_low_percent + (settings.battery_clear_percent if saving else 0.0)
    if battery is not None and not conditions.battery_plugged and battery <= low_mark:
        causes.append(f"battery {battery:.0f}% unplugged "
                      f"(low at {settings.battery_low_percent:g}%)")
    hot_mark = settings.temperature_high_celsius - (
        settings.temperature_clear_celsius if saving else 0.0)
    temperature = conditions.temperature_celsius
    if temperature is not None and temperature >= hot_mark:
        causes.append(f"{temperature:.0f} C (hot at {settings.temperature_high_celsius:g} C)")
    if conditions.throttling:
        causes.append("thermal throttling")
    return causes


@dataclass(frozen=True)
class NodeView:
    """What the manager knows of one node when deciding."""

    name: str
    goal: Goal
    profiles: Mapping[str, BranchProfile]
    current: Choice | None = None
    changed_at: float | None = None  # when the policy last changed it (None: never)
    own_load_cores: float = 0.0  # CPU cores it keeps busy now (its diagnostics)
    input_rate_hz: float = 0.0
    pass_rate: float | None = None  # share of inputs reaching stage B, observed; None: profile's
    # observed/predicted latency per branch, learnt online (profiles.py); missing: 1
    latency_corrections: Mapping[str, float] = field(default_factory=dict)
    overhead_ms: float = 0.0  # the input's path outside the two stages (decode, preprocessing)


@dataclass(frozen=True)
class Decision:
    node: str
    choice: Choice
    previous: Choice | None
    changed: bool
    reason: str
    predicted: Prediction


@dataclass(frozen=True)
class _Context:
    """Everything a node's choice depends on besides the node."""

    topology: CoreTopology
    power: Mapping[str, CorePower]
    settings: Settings
    modes: Modes
    others_busy: dict[int, float]  # CPU -> share busy with work other than this node
    memory_headroom_bytes: float  # growth allowed before memory_high_percent


def decide(
    nodes: Iterable[NodeView],
    conditions: Conditions,
    topology: CoreTopology,
    power: Mapping[str, CorePower],
    settings: Settings,
    modes: Modes,
    now: float,
) -> list[Decision]:
    """One decision per node with profiles, in priority order (see the module docstring)."""
    ordered = sorted((n for n in nodes if n.profiles),
                     key=lambda n: (-n.goal.priority, n.name))
    loads = {n.name: _current_load(n, topology) for n in ordered}
    background = _background(conditions, loads.values())
    headroom = (settings.memory_high_percent - conditions.memory_percent) / 100.0 * (
        conditions.memory_total_bytes or 0)
    decisions = []
    for view in ordered:
        others = _add(background, *(load for name, load in loads.items() if name != view.name))
        context = _Context(topology, power, settings, modes, others, headroom)
        decision = _decide_node(view, context, now)
        decisions.append(decision)
        loads[view.name] = _planned_load(view, decision, topology)
        headroom -= _growth(view, decision.choice)
    return decisions


# --- load accounting -----------------------------------------------------------------------------
def _spread(cores: float, cpus: Iterable[int]) -> dict[int, float]:
    cpus = list(cpus)
    return {cpu: cores / len(cpus) for cpu in cpus} if cpus else {}


def _add(*loads: Mapping[int, float]) -> dict[int, float]:
    total: dict[int, float] = {}
    for load in loads:
        for cpu, share in load.items():
            total[cpu] = total.get(cpu, 0.0) + share
    return total


def _choice_cpus(choice: Choice | None, topology: CoreTopology) -> set[int]:
    if choice is None or choice.placement is None:
        return {cpu for cpus in topology.classes.values() for cpu in cpus}
    placement = choice.placement
    return set(class_cpus(topology, placement.stage_a)) | set(class_cpus(topology,
                                                                        placement.stage_b))


def _current_load(view: NodeView, topology: CoreTopology) -> dict[int, float]:
    return _spread(view.own_load_cores, _choice_cpus(view.current, topology))


def _background(
    conditions: Conditions, own_loads: Iterable[Mapping[int, float]]
) -> dict[int, float]:
    """Busy share of each CPU without the managed nodes' own load."""
    own = _add(*own_loads)
    return {cpu: max(0.0, busy - own.get(cpu, 0.0)) for cpu, busy in enumerate(conditions.cpu_busy)}


def _planned_load(view: NodeView, decision: Decision, topology: CoreTopology) -> dict[int, float]:
    """Cores the node will keep busy with its new choice: input rate x CPU time per input."""
    choice = decision.choice
    if choice.placement is None or choice.branch not in view.profiles:
        return _current_load(view, topology)
    profile = view.profiles[choice.branch]
    pass_rate = _pass_rate(view, profile)
    cost_a = profile.cost("a", choice.placement.stage_a).cpu_ms
    cost_b = profile.cost("b", choice.placement.stage_b).cpu_ms * pass_rate
    rate = view.input_rate_hz / 1000.0
    return _add(_spread(min(1.0, rate * cost_a), class_cpus(topology, choice.placement.stage_a)),
                _spread(min(1.0, rate * cost_b), class_cpus(topology, choice.placement.stage_b)))


def _growth(view: NodeView, choice: Choice) -> float:
    """Bytes the device's memory use grows by when the node moves to `choice`."""
    if view.current is None or view.current.branch == choice.branch:
        return 0.0
    old, new = view.profiles.get(view.current.branch), view.profiles.get(choice.branch)
    return (new.memory_bytes if new else 0) - (old.memory_bytes if old else 0)


# --- prediction ----------------------------------------------------------------------------------
def _pass_rate(view: NodeView, profile: BranchProfile) -> float:
    return profile.pass_rate if view.pass_rate is None else view.pass_rate


def _slowdown(core_class: str, topology: CoreTopology, others_busy: Mapping[int, float]) -> float:
    busy = [min(1.0, others_busy.get(cpu, 0.0)) for cpu in class_cpus(topology, core_class)]
    if not busy:
        return 1.0
    return 1.0 + (min(busy) if core_class == ANY_CORE else sum(busy) / len(busy))


def predict(view: NodeView, choice: Choice, context: _Context) -> Prediction:
    """The candidate's latency, accuracy, energy and footprint (see the module docstring)."""
    profile = view.profiles[choice.branch]
    placement = choice.placement or Placement(PERFORMANCE, PERFORMANCE)
    stages, energy = [], 0.0
    for stage, core_class in (("a", placement.stage_a), ("b", placement.stage_b)):
        cost = profile.cost(stage, core_class)
        slowdown = _slowdown(core_class, context.topology, context.others_busy)
        stages.append(cost.wall_ms * slowdown)
        share = 1.0 if stage == "a" else _pass_rate(view, profile)
        energy += share * cost.cpu_ms * _busy_watts(context.power, core_class)  # ms x W = mJ
    latency = sum(stages) * view.latency_corrections.get(choice.branch, 1.0) + view.overhead_ms
    return Prediction(latency, profile.accuracy, energy, profile.memory_bytes,
                      (stages[0], stages[1]))


def _busy_watts(power: Mapping[str, CorePower], core_class: str) -> float:
    if core_class in power:
        return power[core_class].busy
    return max(p.busy for p in power.values())  # "any": the costliest class it may run on


def _candidates(view: NodeView, topology: CoreTopology) -> list[Choice]:
    classes = set(profiled_classes(topology))
    return [
        Choice(branch, placement)
        for branch, profile in sorted(view.profiles.items())
        for placement in PLACEMENTS
        if {placement.stage_a, placement.stage_b} <= classes & profile.core_classes()
    ]


# --- the choice ----------------------------------------------------------------------------------
def _problems(view: NodeView, choice: Choice, p: Prediction, context: _Context,
              margin: float) -> dict[str, str]:
    """Why a candidate is not admissible, by goal ({} = it is); `margin` = latency headroom."""
    goal, problems = view.goal, {}
    growth = _growth(view, choice)
    if goal.memory_budget_mb is not None and p.memory_bytes > goal.memory_budget_mb * MB:
        problems["memory"] = (f"{p.memory_bytes / MB:.0f} MB > memory budget "
                              f"{goal.memory_budget_mb:g} MB")
    elif growth > 0 and growth > context.memory_headroom_bytes:
        problems["memory"] = (f"+{growth / MB:.0f} MB would pass the memory mark "
                              f"({context.settings.memory_high_percent:g}%)")
    if p.latency_ms > goal.latency_budget_ms * (1.0 - margin):
        spare = f" with {margin:.0%} margin" if margin else ""
        problems["latency"] = f"{p.latency_ms:.1f} ms > budget {goal.latency_budget_ms:g} ms{spare}"
    if goal.min_accuracy > 0 and (p.accuracy is None or p.accuracy < goal.min_accuracy):
        shown = "unknown" if p.accuracy is None else f"{p.accuracy:.3f}"
        problems["accuracy"] = f"accuracy {shown} < {goal.min_accuracy:g}"
    return problems


Objective = tuple[str, Callable[[Prediction], float], bool]  # name, value, relative margin?


def _objectives(modes: Modes) -> list[Objective]:
    accuracy: Objective = ("accuracy", lambda p: -(p.accuracy or 0.0), False)
    energy: Objective = ("energy", lambda p: p.energy_mj, True)
    memory: Objective = ("memory", lambda p: float(p.memory_bytes), True)
    order = [memory] if modes.memory_saving else []
    latency: Objective = ("latency", lambda p: p.latency_ms, True)
    order += [energy, accuracy] if modes.energy_saving else [accuracy, latency]
    return order


def _improvement(new: Prediction, old: Prediction, objectives: list[Objective],
                 margin: float) -> str | None:
    """What `new` is better at by a meaningful step (the first objective that differs)."""
    for name, value, relative in objectives:
        a, b = value(new), value(old)
        step = margin * abs(b) if relative else 1e-9
        if a < b - step:
            return name
        if a > b + step:
            return None
    return None


def _decide_node(view: NodeView, context: _Context, now: float) -> Decision:
    predictions = {c: predict(view, c, context) for c in _candidates(view, context.topology)}
    current = view.current if view.current and view.current.branch in view.profiles else None
    if current is not None and current not in predictions:
        predictions[current] = predict(view, current, context)
    keep = _held_by_dwell(view, current, context.settings, now)
    if keep:
        return Decision(view.name, current, current, False, keep, predictions[current])
    choice, reason = _choose(view, current, predictions, context)
    return Decision(view.name, choice, view.current, choice != view.current,
                    f"{reason}; {context.modes.label()} mode", predictions[choice])


def _held_by_dwell(view: NodeView, current: Choice | None, settings: Settings,
                   now: float) -> str | None:
    if current is None or view.changed_at is None:
        return None
    age = now - view.changed_at
    if age >= settings.dwell_s:
        return None
    return f"holding {current.label()}: changed {age:.1f} s ago (dwell {settings.dwell_s:g} s)"


def _choose(view: NodeView, current: Choice | None, predictions: dict[Choice, Prediction],
            context: _Context) -> tuple[Choice, str]:
    margin = context.settings.switch_margin
    applicable = {c: p for c, p in predictions.items() if c.placement is not None}
    problems = {c: _problems(view, c, p, context, 0.0 if c == current else margin)
                for c, p in applicable.items()}
    pool = sorted((c for c in applicable if not problems[c]), key=lambda c: c != current)
    objectives = _objectives(context.modes)
    if not pool:
        return _relaxed(view, current, predictions, problems, margin, objectives)
    best = _best(pool, predictions, objectives, margin)
    facts = _facts(predictions[best], view.goal)
    if best == current:
        return best, f"{best.label()} still best ({facts})"
    if current in pool:
        gain = _improvement(predictions[best], predictions[current], objectives, margin)
        kept = _facts(predictions[current], view.goal)
        if gain is None:
            return current, f"keeping {current.label()} ({kept}): nothing better by the margin"
        return best, f"{best.label()} is better on {gain} ({facts}) than {current.label()} ({kept})"
    return best, f"{_leaving(current, problems)}{best.label()} meets the goals ({facts})"


def _best(pool: list[Choice], predictions: dict[Choice, Prediction],
          objectives: list[Objective], margin: float) -> Choice:
    """The first of `pool` (current choice, then preference order) that no later candidate
    beats by the switch margin: a near tie keeps the earlier, less intrusive choice."""
    best = pool[0]
    for candidate in pool[1:]:
        if _improvement(predictions[candidate], predictions[best], objectives, margin):
            best = candidate
    return best


def _relaxed(view: NodeView, current: Choice | None, predictions: dict[Choice, Prediction],
             problems: dict[Choice, dict[str, str]], margin: float,
             objectives: list[Objective]) -> tuple[Choice, str]:
    """Nothing meets every goal: keep memory and the deadline, give up accuracy, then speed."""
    goal, leaving = view.goal, _leaving(current, problems)
    fits = [c for c, why in problems.items() if not why.keys() - {"accuracy"}]
    if fits:
        best = min(fits, key=lambda c: (-(predictions[c].accuracy or 0.0),
                                        *(value(predictions[c]) for _, value, _ in objectives)))
        return best, (f"{leaving}no branch meets both the budget and accuracy >= "
                      f"{goal.min_accuracy:g}: kept the deadline with the most accurate, "
                      f"{best.label()} ({_facts(predictions[best], goal)})")
    pool = [c for c, why in problems.items() if "memory" not in why] or list(problems)
    fastest = min(pool, key=lambda c: predictions[c].latency_ms)
    if current in pool and (predictions[fastest].latency_ms
                            > predictions[current].latency_ms * (1.0 - margin)):
        fastest = current
    return fastest, (f"{leaving}no branch meets the {goal.latency_budget_ms:g} ms budget: "
                     f"fastest is {fastest.label()} ({_facts(predictions[fastest], goal)})")


def _leaving(current: Choice | None, problems: dict[Choice, dict[str, str]]) -> str:
    if current is None:
        return "first assignment: "
    if current.placement is None:
        return f"taking over {current.label()}: "
    return f"{current.label()} fails: {'; '.join(problems[current].values())}; "


def _facts(p: Prediction, goal: Goal) -> str:
    accuracy = "accuracy unknown" if p.accuracy is None else f"accuracy {p.accuracy:.3f}"
    return (f"predicted {p.latency_ms:.1f}/{goal.latency_budget_ms:g} ms, {accuracy}, "
            f"{p.energy_mj:.2f} mJ est., {p.memory_bytes / MB:.0f} MB")
