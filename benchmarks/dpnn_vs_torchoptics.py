"""Diffractive-network forward+backward throughput: photonic-dat versus torchoptics.

Both libraries compute the same physical system in one process, timed interleaved:
wavelength 532 nm, pixel pitch 8 um, every plane ``n x n`` pixels, input plane -> 5 cm ->
phase mask 1 -> 5 cm -> ... -> phase mask L -> 5 cm -> detector plane (L + 1 propagations).
One step is forward + backward of ``loss = sum of |E|^2 over a centred detector square`` (side
n / 5) down to the L phase masks, for a batch of image-like amplitude inputs (a smooth random
pattern in the centred n/2 x n/2 square). Masks are uniform random phases in [0, 2pi).

Environment (torchoptics must NOT go into the project's own .venv)::

    python3 -m venv /tmp/bench-venv
    . /tmp/bench-venv/bin/activate
    pip install torch==2.13.0          # pin first: an unpinned torch pulls a CUDA build
    pip install torchoptics            # 1.0.2 at the time of writing; needs torch + matplotlib
    pip install -e /work/main          # photonic-dat
    python benchmarks/dpnn_vs_torchoptics.py --threads 2

(or ``pip install -r benchmarks/requirements-torchoptics.txt`` for the first two steps,
with the versions this was run with). If torchoptics is missing the script says so and exits.

What is compared
----------------
* ``pdat``: photonic-dat's real DPNN model, ``photonic_dat.config.dpnn_family.build_dpnn``
  with ``dpnn.{neurons=n, layers=L, distance=input_distance=output_distance=0.05,
  pitch=8e-6, wavelength=532e-9, propagation=convolution, phase_wrap=mod}``, run with
  ``PNN.run`` from the input field (the image encoder and the class readout are bypassed;
  ``raw`` is set to the shared mask phases, and ``mod`` wrapping leaves phases in [0, 2pi)
  unchanged). ``propagation=convolution`` is the default (set explicitly here); the config
  also passes ``pad_factor=2``, which the convolution method does not use. Each gap is a
  ``DiffractiveLayer`` / final ``FreeSpace`` block calling
  ``photonic_dat.optics.free_space.propagate(..., method="convolution")``: an exact linear
  convolution of the n x n field with the band-limited impulse response of the gap. That
  response is computed once per gap distance (angular spectrum on a grid large enough for
  its whole geometric spread, cut to the (2n - 1)^2 offsets that join two aperture pixels)
  and cached as its 2n x 2n FFT; each call is then a 2n x 2n FFT of the field, a product
  and an inverse FFT cropped to n x n, all complex64. If ``build_dpnn`` is missing or fails
  (``--pdat auto``), or with ``--pdat compose``, the same chain is composed from
  ``free_space.propagate(..., method="convolution")`` and
  ``optics.diffractive.phase_modulation``, which computes the same thing. The table header
  says which path ran.
* ``torchoptics``: ``torchoptics.System`` of ``elements.PhaseModulator`` (phase as an
  ``nn.Parameter``) at z = 5, 10, ... cm, measured with ``System.measure_at_z`` at the
  detector plane, all propagation keywords left at their defaults:
  ``propagation_method="AUTO"``, ``asm_pad=None`` (ASM pads 2n zeros on every side, i.e. a
  5n grid), ``interpolation_mode="nearest"`` (unused: the planes share one geometry).
  ``AUTO`` picks ASM only when ``z < z_c = 2 (n - 1) dx^2 / lambda`` (Voelz, eq. A.17);
  here z_c = 1.2 / 2.4 / 4.8 cm for n = 50 / 100 / 200, so every 5 cm gap runs the
  *direct integration method* (DIM): the Rayleigh-Sommerfeld impulse response sampled on
  a (2n - 1)^2 grid, rebuilt on every call, convolved by FFTs of size 2n. torchoptics'
  default dtype is float64 (complex128 fields): column ``to64``. Column ``to32`` is the same
  system after ``torchoptics.set_default_dtype(torch.float32)`` (complex64, as photonic-dat).

Accuracy
--------
The reference is this script's own angular-spectrum propagation in complex128 without band
limit on a grid padded to ``P = max(2048, 4 n, n + 4 s)`` per side, where ``s`` is the
lateral reach (pixels) of the highest sampled spatial frequency over one gap,
``z tan(asin(lambda / 2 dx)) / dx`` = 208 px here. It treats the sampled field as band
limited to the Nyquist frequency of the 8 um grid (every sampled frequency propagates
exactly; nothing wraps back into the output window, and the transfer function's chirp is
sampled finely enough that a band limit would cut nothing). The hard Nyquist edge leaves
slowly decaying tails, so the reference converges only like ~1/P^2; column ``ref chk`` is
the error of the same reference on a 0.75x smaller grid, an upper bound of the reference's
own error. Errors are ``||E - E_ref|| / ||E_ref||`` over the whole n x n detector plane, for
2 input samples with the same float32 masks and inputs. torchoptics' DIM samples the
continuous Rayleigh-Sommerfeld kernel at the pixel offsets rather than its band-limited
version; even where both are well sampled they differ by a few per cent per gap, so part of
its error is the discretisation it chooses. Its float32 mode also loses accuracy because it
evaluates ``exp(i k r)`` with ``k r ~ 6e5`` rad in float32.

Memory
------
Peak memory of one forward+backward (batch 32, n = 200, L = 5) is measured per
implementation in a fresh child process (this script with ``--memory-child``), before the
timing runs. The child builds the network, runs one batch-1 step (caches, thread pools,
lazy initialisation), resets the kernel's peak-RSS counter (``echo 5 >
/proc/self/clear_refs``), reads ``VmRSS`` from /proc/self/status, runs one batch-32 step and
reads ``VmHWM`` (peak RSS); the figure reported is ``VmHWM - VmRSS``, the extra memory the
step needed at its peak. ``getrusage(...).ru_maxrss`` is not used: Linux carries it across
fork + exec, so a child starts with its parent's high-water mark (all children reported the
parent's 1.15 GiB in a first attempt). Children run with ``MALLOC_MMAP_THRESHOLD_=131072``:
every block over 128 KiB (all field-sized tensors) is mmap-ed and handed back to the OS
when freed, so RSS follows the live tensors rather than glibc's heap high-water mark, the
same way for every implementation. RSS counts everything the step touched (autograd's
saved tensors, FFT work buffers, temporaries), which ``torch.profiler``'s per-op
allocation counts would have to be re-summed in time order to give.

Timing
------
``torch.set_num_threads(--threads)``; per configuration ``--warmup`` untimed steps of each
implementation, then ``--reps`` rounds, each timing one step of every implementation in
rotating order; the median is reported. ``ratio`` is the other implementation's time /
photonic-dat's (> 1: photonic-dat is faster). ``OMP_WAIT_POLICY`` defaults to ``PASSIVE``
(set before torch is imported; an explicit value in the environment wins): with libgomp's
spinning default, a 2-thread process on cores shared with other jobs paid a scheduler time
slice per parallel op (450 ms instead of 14 ms per n = 50 step), for every library alike.

    python benchmarks/dpnn_vs_torchoptics.py [--threads 2] [--batch 32] [--sizes 50,100,200]
        [--layers 1,3,5] [--reps 5] [--warmup 2] [--pdat auto|model|compose] [--no-memory]
"""

from __future__ import annotations

import os

# libgomp's default (active, spinning) wait policy makes every parallel op of a 2-thread
# process cost a scheduler time slice when the cores are shared with other jobs (measured:
# 450 ms instead of 14 ms per n=50 step). Must be set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

try:
    import torchoptics  # noqa: E402
    from torchoptics.elements import PhaseModulator  # noqa: E402
except ImportError as exc:  # pragma: no cover - environment check
    sys.exit(
        f"torchoptics is not importable ({exc}).\n"
        "This benchmark needs a separate environment (keep torchoptics out of the project's "
        ".venv):\n"
        "    python3 -m venv /tmp/bench-venv && . /tmp/bench-venv/bin/activate\n"
        "    pip install torch==2.13.0 && pip install torchoptics && pip install -e /work/main\n"
    )

from photonic_dat.optics.diffractive import phase_modulation  # noqa: E402
from photonic_dat.optics.free_space import propagate  # noqa: E402

WAVELENGTH = 532e-9  # m
PITCH = 8e-6  # m
GAP = 0.05  # m, every gap including input -> mask 1 and mask L -> detector
ACCURACY_SAMPLES = 2
REFERENCE_GRID = 2048  # minimum padded size of the reference propagation
MEMORY_CASE = (200, 5)  # (n, L)
IMPLS = ("pdat", "to64", "to32")


# --------------------------------------------------------------------------- shared inputs


def make_inputs(n: int, batch: int, seed: int = 0) -> torch.Tensor:
    """Image-like amplitude patterns ``(batch, n, n)`` complex64 in the centred n/2 square."""
    gen = torch.Generator().manual_seed(seed)
    size = max(n // 2, 4)
    coarse = torch.rand(batch, 1, 7, 7, generator=gen)
    smooth = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    amplitude = ((smooth[:, 0] - 0.45) * 4.0).clamp(0.0, 1.0)
    before = (n - size) // 2
    amplitude = F.pad(amplitude, (before, n - size - before, before, n - size - before))
    return torch.complex(amplitude, torch.zeros_like(amplitude))


def make_phases(n: int, layers: int, seed: int = 1) -> torch.Tensor:
    """Mask phases ``(layers, n, n)`` float32, uniform in [0, 2pi)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(layers, n, n, generator=gen) * (2.0 * math.pi)


def detector_mask(n: int) -> torch.Tensor:
    """Centred square detector region of side n / 5 (bool ``(n, n)``)."""
    side = max(n // 5, 1)
    start = (n - side) // 2
    mask = torch.zeros(n, n, dtype=torch.bool)
    mask[start : start + side, start : start + side] = True
    return mask


# --------------------------------------------------------------------------- implementations


class Net:
    """One implementation: ``field(x)`` gives the detector-plane field, ``params`` the masks."""

    name: str
    params: list[torch.Tensor]

    def field(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


class PdatModel(Net):
    """photonic-dat's DPNN model from ``build_dpnn`` (blocks only)."""

    def __init__(self, n: int, phases: torch.Tensor) -> None:
        from photonic_dat.config.dpnn_family import build_dpnn
        from photonic_dat.config.schema import DPNNConfig, RunConfig
        from photonic_dat.models.diffractive import DiffractiveLayer

        layers = phases.shape[0]
        cfg = RunConfig(
            model="dpnn",
            dpnn=DPNNConfig(
                wavelength=WAVELENGTH,
                pitch=PITCH,
                neurons=n,
                layers=layers,
                distance=GAP,
                input_distance=GAP,
                output_distance=GAP,
                pad_factor=2.0,  # not used by the convolution method
                propagation="convolution",
                phase_wrap="mod",
            ),
        )
        self.pnn = build_dpnn(cfg)
        masks = [b for b in self.pnn.blocks if isinstance(b, DiffractiveLayer)]
        if len(masks) != layers or len(self.pnn.blocks) != layers + 1:
            raise RuntimeError(f"unexpected DPNN layout: {self.pnn.blocks}")
        with torch.no_grad():
            for block, phase in zip(masks, phases, strict=True):
                block.raw.copy_(phase)
        self.params = [b.raw for b in masks]
        self.name = "build_dpnn model"

    def field(self, x: torch.Tensor) -> torch.Tensor:
        return self.pnn.run(x).output


class PdatCompose(Net):
    """photonic-dat functions composed: ``propagate`` (convolution) and ``phase_modulation``."""

    def __init__(self, n: int, phases: torch.Tensor) -> None:
        self.params = [p.clone().requires_grad_(True) for p in phases]
        self.name = "free_space.propagate + phase_modulation"

    def field(self, x: torch.Tensor) -> torch.Tensor:
        for phase in self.params:
            x = phase_modulation(self._prop(x), phase)
        return self._prop(x)

    @staticmethod
    def _prop(u: torch.Tensor) -> torch.Tensor:
        return propagate(u, PITCH, WAVELENGTH, GAP, method="convolution")


def make_pdat(n: int, phases: torch.Tensor, path: str) -> Net:
    if path == "compose":
        return PdatCompose(n, phases)
    try:
        net = PdatModel(n, phases)
        with torch.no_grad():  # smoke test: the model must run on this grid
            net.field(torch.zeros(1, n, n, dtype=torch.complex64))
        return net
    except Exception as exc:
        if path == "model":
            raise
        print(f"# build_dpnn unavailable ({type(exc).__name__}: {exc}); composing functions")
        return PdatCompose(n, phases)


class TorchOpticsNet(Net):
    """torchoptics ``System`` of ``PhaseModulator`` s, default propagation settings."""

    def __init__(self, n: int, phases: torch.Tensor, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self.n = n
        self.layers = phases.shape[0]
        torchoptics.set_default_dtype(dtype)
        elements = [
            PhaseModulator(torch.nn.Parameter(p.to(dtype)), z=(k + 1) * GAP, spacing=PITCH)
            for k, p in enumerate(phases)
        ]
        self.system = torchoptics.System(*elements)
        self.params = list(self.system.parameters())
        self.name = f"torchoptics {torchoptics.__version__} ({dtype})"

    def field(self, x: torch.Tensor) -> torch.Tensor:
        torchoptics.set_default_dtype(self.dtype)  # a global, read on every Field copy
        source = torchoptics.Field(x, wavelength=WAVELENGTH, z=0.0, spacing=PITCH)
        out = self.system.measure_at_z(source, z=(self.layers + 1) * GAP)
        return out.data


# --------------------------------------------------------------------------- reference


def reference_grid(n: int) -> int:
    """Padded size of the reference grid (see the module docstring)."""
    sin_max = min(WAVELENGTH / (2.0 * PITCH), 1.0)
    reach = math.ceil(GAP * math.tan(math.asin(sin_max)) / PITCH)
    return max(REFERENCE_GRID, 4 * n, n + 4 * reach)


def _full_transfer(p: int) -> torch.Tensor:
    """Angular-spectrum transfer function on a p x p grid, complex128, no band limit."""
    f = torch.fft.fftfreq(p, d=PITCH, dtype=torch.float64)
    arg = 1.0 / WAVELENGTH**2 - f[:, None] ** 2 - f[None, :] ** 2
    if bool((arg < 0).any()):
        raise RuntimeError("evanescent components on the reference grid")
    kz = 2.0 * math.pi * torch.sqrt(arg)
    return torch.polar(torch.ones_like(kz), GAP * kz)


def reference_field(x: torch.Tensor, phases: torch.Tensor, grid: int | None = None) -> torch.Tensor:
    """Angular spectrum in complex128 on a large grid, no band limit."""
    n = x.shape[-1]
    p = reference_grid(n) if grid is None else grid
    transfer = _full_transfer(p)
    lo = (p - n) // 2
    hi = p - n - lo

    def prop(u: torch.Tensor) -> torch.Tensor:
        big = F.pad(u, (lo, hi, lo, hi))
        return torch.fft.ifft2(torch.fft.fft2(big) * transfer)[..., lo : lo + n, lo : lo + n]

    u = x.to(torch.complex128)
    for phase in phases.to(torch.float64):
        u = prop(u) * torch.polar(torch.ones_like(phase), phase)
    return prop(u)


def relative_error(field: torch.Tensor, ref: torch.Tensor) -> float:
    diff = field.detach().to(torch.complex128) - ref
    return float(torch.linalg.vector_norm(diff) / torch.linalg.vector_norm(ref))


# --------------------------------------------------------------------------- timing


def step(net: Net, x: torch.Tensor, mask: torch.Tensor) -> float:
    net.zero_grad()
    out = net.field(x)
    loss = (out.real**2 + out.imag**2)[..., mask].sum()
    loss.backward()
    return float(loss.detach())


def make_net(impl: str, n: int, phases: torch.Tensor, pdat_path: str) -> Net:
    if impl == "pdat":
        return make_pdat(n, phases, pdat_path)
    return TorchOpticsNet(n, phases, torch.float64 if impl == "to64" else torch.float32)


def measure(
    n: int, layers: int, batch: int, reps: int, warmup: int, impls: list[str], pdat_path: str
) -> tuple[dict, dict[str, Net]]:
    phases = make_phases(n, layers)
    nets = {impl: make_net(impl, n, phases, pdat_path) for impl in impls}
    x = make_inputs(n, batch)
    mask = detector_mask(n)

    xs = x[:ACCURACY_SAMPLES]
    ref = reference_field(xs, phases)
    ref_small = reference_field(xs, phases, grid=(3 * reference_grid(n)) // 4)
    errors = {"ref": relative_error(ref_small, ref)}
    with torch.no_grad():
        for k, net in nets.items():
            errors[k] = relative_error(net.field(xs), ref)

    for _ in range(warmup):
        for net in nets.values():
            step(net, x, mask)
    times: dict[str, list[float]] = {k: [] for k in impls}
    for r in range(reps):
        order = impls[r % len(impls) :] + impls[: r % len(impls)]
        for k in order:
            t0 = time.perf_counter()
            step(nets[k], x, mask)
            times[k].append(time.perf_counter() - t0)
    ms = {k: 1000.0 * statistics.median(v) for k, v in times.items()}
    return {"n": n, "L": layers, "batch": batch, "ms": ms, "err": errors}, nets


# --------------------------------------------------------------------------- memory


def _proc_status_bytes(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def memory_child(impl: str, threads: int, batch: int, pdat_path: str) -> None:
    torch.set_num_threads(threads)
    n, layers = MEMORY_CASE
    net = make_net(impl, n, make_phases(n, layers), pdat_path)
    x = make_inputs(n, batch)
    mask = detector_mask(n)
    step(net, x[:1], mask)  # caches, thread pools, lazy initialisation
    gc.collect()
    reset = _reset_peak_rss()
    rss_before = _proc_status_bytes("VmRSS")
    step(net, x, mask)
    peak = _proc_status_bytes("VmHWM")
    result = {"impl": impl, "rss_before": rss_before, "peak": peak, "reset": reset}
    print("MEMORY " + json.dumps(result))


def measure_memory(impls: list[str], threads: int, batch: int, pdat_path: str) -> list[dict]:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    results = []
    for impl in impls:
        cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", impl]
        cmd += ["--threads", str(threads), "--batch", str(batch), "--pdat", pdat_path]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEMORY ")]
        if proc.returncode != 0 or not lines:
            print(f"# memory child {impl} failed (rc {proc.returncode}):\n{proc.stderr[-2000:]}")
            continue
        results.append(json.loads(lines[-1][len("MEMORY ") :]))
    return results


# --------------------------------------------------------------------------- main


def _fmt_table(rows: list[dict], impls: list[str]) -> list[str]:
    others = [k for k in impls if k != "pdat"]
    head = f"{'n':>4} {'L':>2} {'batch':>5} | {'pdat ms':>8}"
    for k in others:
        head += f" {k + ' ms':>8} {'ratio':>6}"
    head += " |" + "".join(f" {'err ' + k:>9}" for k in impls) + f" {'ref chk':>8}"
    out = [head, "-" * len(head)]
    for r in rows:
        ms, err = r["ms"], r["err"]
        line = f"{r['n']:>4} {r['L']:>2} {r['batch']:>5} | {ms['pdat']:>8.1f}"
        for k in others:
            line += f" {ms[k]:>8.1f} {ms[k] / ms['pdat']:>5.2f}x"
        line += " |" + "".join(f" {err[k]:>9.2e}" for k in impls) + f" {err['ref']:>8.1e}"
        out.append(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--sizes", default="50,100,200")
    parser.add_argument("--layers", default="1,3,5")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--pdat", choices=("auto", "model", "compose"), default="auto")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-child", choices=IMPLS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.memory_child:
        memory_child(args.memory_child, args.threads, args.batch, args.pdat)
        return

    torch.set_num_threads(args.threads)
    impls = list(IMPLS)
    memory = [] if args.no_memory else measure_memory(impls, args.threads, 32, args.pdat)
    sizes = [int(s) for s in args.sizes.split(",")]
    depths = [int(s) for s in args.layers.split(",")]
    rows = []
    pdat_name = "?"
    for n in sizes:
        for layers in depths:
            row, nets = measure(n, layers, args.batch, args.reps, args.warmup, impls, args.pdat)
            pdat_name = nets["pdat"].name
            rows.append(row)
            done = ", ".join(f"{k} {v:.1f} ms" for k, v in row["ms"].items())
            print(f"# done n={n} L={layers}: {done}", flush=True)

    print()
    print(
        f"Diffractive network: lambda {WAVELENGTH * 1e9:.0f} nm, pitch {PITCH * 1e6:.0f} um, "
        f"gaps {GAP * 100:.0f} cm, L masks + final gap, batch {args.batch}, "
        f"{torch.get_num_threads()} threads, median of {args.reps} (warm-up {args.warmup})"
    )
    print(
        f"pdat: photonic-dat {pdat_name} (free_space.propagate method=convolution: "
        "cached band-limited impulse response, 2n x 2n FFTs, complex64)"
    )
    print(
        f"to64/to32: torchoptics {torchoptics.__version__} System of PhaseModulators, "
        "propagation_method=AUTO (-> DIM here), asm_pad=None; float64 (default) / float32"
    )
    print("ratio = other ms / pdat ms (> 1: photonic-dat faster); err = ||E - E_ref|| / ||E_ref||")
    print("at the detector plane; ref chk = error of the reference itself on a 0.75x grid")
    for line in _fmt_table(rows, impls):
        print(line)

    if memory:
        n, layers = MEMORY_CASE
        print()
        print(
            f"Peak memory of one forward+backward, n={n}, L={layers}, batch 32 (fresh child "
            "process; VmHWM after the step minus VmRSS before it):"
        )
        for m in memory:
            note = "" if m["reset"] else "  (could not reset VmHWM: peak may be too high)"
            print(
                f"  {m['impl']:<5} step peak {(m['peak'] - m['rss_before']) / 2**20:8.1f} MiB"
                f"   (RSS before {m['rss_before'] / 2**20:.0f} MiB, peak {m['peak'] / 2**20:.0f}"
                f" MiB){note}"
            )


if __name__ == "__main__":
    main()
