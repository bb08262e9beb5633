"""The paper's MPNN direct deployment, reproduced from its reference code, against ours.

Three questions, answered on the MNIST test set:

1. Does this package's MPNN physics outside the meshes (FFT-crop encoder, electro-optic
   activation, L2-normalised port readout) agree with the reference code? The reference's
   trained ideal model and its saved error realisations (``THPCILab/DAT_MPNN``, MIT) are
   turned into mesh transfer matrices by the reference's own mesh code; everything else runs
   through ``photonic_dat``. The direct-deployment accuracies are printed beside the
   figures the reference logs (and the brief's table) report.
2. Are the mesh errors of the same size? The relative Frobenius deviation of each mesh's
   transfer matrix, reference model with its error files against our model with ours, at
   the same standard deviations.
3. Why is our direct deployment weaker? For each run directory given (in-silico models of
   this package), its ideal accuracy, its output margin (top-1 minus top-2 of the
   L2-normalised class-port intensities) and its share of output energy in the class ports,
   and its direct-deployment accuracy on error seeds 0-2 of every setting (the devices of
   ``benchmarks/specs/mpnn-table-mnist.yaml``, so its DD rows are reproduced).

The reference checkout is read, never changed: its model file with
``torch.load(weights_only=True)`` (tensors only, no code runs), its error files with
``numpy.load`` (no pickles). Its mesh code (``neurophoxTorch``) is imported from the checkout
with three shims that make the 2021 code import on CPU with today's libraries (an empty
``tensorflow`` module for type hints, ``numpy.complex`` / ``numpy.float`` aliases, and
``.cuda()`` as a no-op while the meshes are built).

    git clone https://github.com/THPCILab/DAT_MPNN ../DAT_MPNN
    python benchmarks/reference_conformance.py --reference ../DAT_MPNN \
        --data-root ../shared/data --run T10=RUN_DIR_A --run T1=RUN_DIR_B
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
import sys
import types
from pathlib import Path

import numpy as np
import torch

from photonic_dat.config.factory import draw_errors, load_splits
from photonic_dat.config.loading import load_config
from photonic_dat.models.activation import EOActivation
from photonic_dat.models.encoders import FFTCropEncoder
from photonic_dat.models.mesh import MeshBlock
from photonic_dat.models.readout import l2_normalise
from photonic_dat.training.evaluate import accuracy
from photonic_dat.training.run import load_run

#: (bs_std, ps_std) of the brief's MNIST table and the figures it gives for DD
SETTINGS = [
    (0.04, 0.04, 86.3),
    (0.04, 0.06, 76.4),
    (0.06, 0.04, 72.6),
    (0.08, 0.02, 85.1),
    (0.06, 0.06, 66.6),
    (0.1, 0.0, 72.8),
    (0.0, 0.1, 59.7),
]
MODEL_FILE = "logs/PureMZINet_N3_MNIST_L64/Base/train.pth"


@contextlib.contextmanager
def reference_imports(checkout: Path):
    """Make the reference's ``neurophoxTorch`` importable on CPU; undo everything after."""
    saved_path, saved_cuda = list(sys.path), (torch.Tensor.cuda, torch.nn.Module.cuda)
    saved_np = {k: getattr(np, k, None) for k in ("complex", "float", "int")}
    tf = types.ModuleType("tensorflow")
    tf.__getattr__ = lambda name: object  # type hints only
    added = {"tensorflow": tf}
    sys.modules.update(added)
    np.complex, np.float, np.int = complex, float, int
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    sys.path.insert(0, str(checkout))
    try:
        yield
    finally:
        sys.path[:] = saved_path
        torch.Tensor.cuda, torch.nn.Module.cuda = saved_cuda
        for k, v in saved_np.items():
            if v is None:
                delattr(np, k)
            else:
                setattr(np, k, v)
        for name in [m for m in sys.modules if m.split(".")[0] in ("neurophoxTorch", "tensorflow")]:
            del sys.modules[name]


def _error_dir(checkout: Path, kind: str, std: float, mesh: int) -> Path:
    path = checkout / "MZI_Error" / "PureMZINet" / "N64" / f"{kind}{std}" / f"Iter{mesh}"
    if not path.is_dir():
        raise SystemExit(f"reference error files missing: {path}")
    return path


@functools.cache
def _reference_meshes(checkout: Path, bs_files: float, ps_files: float) -> dict[str, list]:
    """Per-mesh transfer matrices (column convention) of the reference's trained model built
    with the error files of ``bs_files`` / ``ps_files``: ideal, with its beamsplitter
    errors, with its phase errors, with both."""
    state = torch.load(checkout / MODEL_FILE, weights_only=True, map_location="cpu")
    out: dict[str, list[torch.Tensor]] = {k: [] for k in ("ideal", "bs", "ps", "both")}
    with reference_imports(checkout):
        from neurophoxTorch.torch import RMTorch

        for k in range(3):
            mesh = RMTorch(
                units=64,
                bs_error=bs_files,
                bs_error_files=str(_error_dir(checkout, "bsE", bs_files, k)),
                phase_error=ps_files,
                phase_error_files=str(_error_dir(checkout, "phaseE", ps_files, k)),
            )
            mesh.load_state_dict(
                {name: state[f"RM_block{k}.{name}"] for name in ("theta", "phi", "gamma")}
            )
            eye = np.eye(64, dtype=np.complex64)
            with torch.no_grad():
                mats = [torch.complex(o[0], o[1]).to(torch.complex64).T for o in mesh(eye)]
            for name, m in zip(out, mats, strict=True):
                out[name].append(m)
    return out


def reference_matrices(checkout: Path, bs: float, ps: float) -> list[torch.Tensor]:
    """The reference model's per-mesh matrices on its device of the setting ``bs`` / ``ps``
    (zero: that error off). The reference reads the files of the std it is given and a zero
    std has none, so another std's files stand in and only the matching output is used."""
    which = ("bs" if not ps else "ps" if not bs else "both") if bs or ps else "ideal"
    return _reference_meshes(checkout, bs or 0.04, ps or 0.04)[which]


def scores_from_matrices(fields: torch.Tensor, mats: list[torch.Tensor]) -> torch.Tensor:
    """This package's activation and readout around the given mesh matrices."""
    activation = EOActivation(64)
    x = fields
    for k, m in enumerate(mats):
        x = x @ m.T
        if k < len(mats) - 1:
            x = activation(x)
    return l2_normalise(x.abs() ** 2)


def summary(intensity: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, float]:
    """Accuracy (%), mean top-1 - top-2 margin of the class ports, class-port energy share."""
    cls = intensity[:, :10]
    top = cls.topk(2, dim=1).values
    acc = 100 * accuracy(cls.argmax(1), labels)
    return acc, float((top[:, 0] - top[:, 1]).mean()), float((cls**2).sum(1).mean())


def logged_dd(checkout: Path, bs: float, ps: float) -> float | None:
    parts = ([f"BS{bs}"] if bs else []) + ([f"PS{ps}"] if ps else [])
    name = f"ExpID_0_{'_'.join(parts)}/ideal" if parts else "ExpID_0_noError/ideal"
    log = checkout / "logs/PureMZINet_N3_MNIST_L64" / name / "test.log"
    if not log.is_file():
        return None
    found = re.findall(r"[Pp]hy\w* .*?: ([0-9.]+)", log.read_text())
    return 100 * float(found[-1]) if found else None


def rel_dev(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="DAT_MPNN checkout")
    parser.add_argument("--data-root", default=None)
    parser.add_argument(
        "--run", action="append", default=[], help="LABEL=RUN_DIR of an in-silico MPNN run"
    )
    args = parser.parse_args()
    if not (args.reference / MODEL_FILE).is_file():
        raise SystemExit(f"{args.reference} is not a DAT_MPNN checkout (no {MODEL_FILE})")
    torch.set_num_threads(1)
    overrides = ["data.name=mnist"] + ([f"data.root={args.data_root}"] if args.data_root else [])
    test = load_splits(load_config("mpnn-mnist", overrides)).test
    labels = test.labels
    fields = FFTCropEncoder(8)(test.images)

    runs = []
    for item in args.run:
        label, _, path = item.partition("=")
        exp = load_run(Path(path), [f"data.root={args.data_root}"] if args.data_root else None)
        runs.append((label, exp))

    print("1. Reference model, reference error files, this package's encoder/activation/readout")
    print(f"{'setting':<16} {'brief DD':>9} {'ref. log':>9} {'here':>7} {'margin':>7}")
    for bs, ps, brief in [(0.0, 0.0, 96.8), *SETTINGS]:
        mats = reference_matrices(args.reference, bs, ps)
        acc, margin, share = summary(scores_from_matrices(fields, mats), labels)
        logged = logged_dd(args.reference, bs, ps)
        log_txt = f"{logged:.1f}" if logged is not None else "-"
        name = "none" if not (bs or ps) else f"bs {bs} ps {ps}"
        print(f"{name:<16} {brief:>9.1f} {log_txt:>9} {acc:>7.2f} {margin:>7.3f}")
        if not (bs or ps):
            print(f"{'':<16} class-port energy share {share:.3f}")

    print("\n2. Relative deviation of each mesh's transfer matrix from its ideal (3-mesh mean)")
    if runs:
        label, exp = runs[0]
        twin = exp.method.twin
        print(f"{'errors':<16} {'reference':>10} {'ours (' + label + ')':>14} {'ratio':>7}")
        for bs, ps in [(0.1, 0.0), (0.0, 0.1), (0.04, 0.04), (0.06, 0.06)]:
            ideal = reference_matrices(args.reference, 0.0, 0.0)
            pairs = zip(reference_matrices(args.reference, bs, ps), ideal, strict=True)
            ref = np.mean([rel_dev(e, i) for e, i in pairs])
            config = exp.config.model_copy(deep=True)
            config.errors.bs_std, config.errors.ps_std = bs, ps
            ours = []
            for seed in range(3):
                config.errors.seed = seed
                real = draw_errors(config, twin)
                with torch.no_grad():
                    ours += [
                        rel_dev(m.transfer_matrix(real.block(k)), m.transfer_matrix())
                        for k, m in enumerate(twin.blocks)
                        if isinstance(m, MeshBlock)
                    ]
            mean = float(np.mean(ours))
            print(f"{f'bs {bs} ps {ps}':<16} {ref:>10.3f} {mean:>14.3f} {mean / ref:>7.2f}")

    for label, exp in runs:
        twin = exp.method.twin
        print(f"\n3. {label}: {exp.config.mpnn.readout_temperature:g} x L2-normalised intensities")
        with torch.no_grad():
            enc = twin.encoder(test.images)
            acc, margin, share = summary(l2_normalise(twin.run(enc).output.abs() ** 2), labels)
            print(f"ideal {acc:.2f} %, margin {margin:.3f}, class-port energy share {share:.3f}")
            seeds = " ".join(f"{f'seed {s}':>7}" for s in range(3))
            print(f"{'setting':<16} {'brief DD':>9} {seeds} {'mean':>7}")
            config = exp.config.model_copy(deep=True)
            for bs, ps, brief in SETTINGS:
                config.errors.bs_std, config.errors.ps_std = bs, ps
                accs = []
                for seed in range(3):
                    config.errors.seed = seed
                    out = twin.run(enc, errors=draw_errors(config, twin)).output
                    accs.append(summary(l2_normalise(out.abs() ** 2), labels)[0])
                cells = " ".join(f"{a:>7.2f}" for a in accs)
                name = f"bs {bs} ps {ps}"
                print(f"{name:<16} {brief:>9.1f} {cells} {np.mean(accs):>7.2f}")


if __name__ == "__main__":
    main()
