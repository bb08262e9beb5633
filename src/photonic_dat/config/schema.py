"""The typed run configuration. Unknown keys and bad values are rejected, naming the key."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from photonic_dat.errors.crossbar import CrossbarErrorSpec
from photonic_dat.errors.slm_lab import SLMLabErrorSpec
from photonic_dat.systems.slmsuite_lab import LabDesign


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MPNNConfig(_Section):
    """Interference PNN: ``meshes`` rectangular meshes of ``ports`` ports with EO activations."""

    ports: int = Field(64, ge=2, le=1024)
    meshes: int = Field(3, ge=1, le=16)
    layers: int | None = Field(None, ge=1, description="MZI layers per mesh (default: ports)")
    init: Literal["haar", "uniform", "identity-cross"] = "haar"
    internal_phase: Literal["single", "differential"] = Field(
        "single",
        description="internal phase on one arm (a heater), or push-pull +-theta/2 (the "
        "paper's reference code): a phase offset then moves each arm by half",
    )
    fft_crop: int | None = Field(None, ge=1, description="default: sqrt(ports)")
    activation_alpha: float = Field(0.1, ge=0, lt=1)
    activation_gain: float = Field(0.05 * 3.141592653589793, ge=0)
    activation_bias: float = 3.141592653589793
    readout_temperature: float = Field(1.0, gt=0)


class DPNNConfig(_Section):
    """Diffractive PNN in SI units: ``layers`` phase masks of ``neurons x neurons`` pixels of
    pitch ``pitch`` (m), spaced by ``distance`` (m), lit at ``wavelength`` (m)."""

    wavelength: float = Field(532e-9, gt=0, lt=1e-3)
    pitch: float = Field(8e-6, gt=0, lt=1e-2)
    neurons: int = Field(100, ge=8, le=2048)
    layers: int = Field(5, ge=1, le=32)
    distance: float = Field(0.05, gt=0, le=10)
    input_distance: float | None = Field(None, gt=0, le=10, description="default: distance")
    output_distance: float | None = Field(None, gt=0, le=10, description="default: distance")
    pad_factor: float = Field(2.0, ge=1, le=8)
    input_size: int | None = Field(None, ge=4, description="image size on the grid (pixels)")
    encoding: Literal["amplitude", "phase"] = "amplitude"
    detector_size: int | None = Field(None, ge=1, description="detector square side (pixels)")
    detector_layout: str = "grid3-4-3"
    readout_temperature: float = Field(10.0, gt=0)
    phase_wrap: Literal["sigmoid", "mod"] = Field("sigmoid", description="raw -> [0, 2pi)")
    init_std: float = Field(0.0, ge=0, description="std of the initial raw phase parameters")
    propagation: Literal["convolution", "angular-spectrum"] = Field(
        "convolution", description="free-space method; pad_factor is for angular-spectrum"
    )


class CrossbarConfig(_Section):
    """Analog in-memory crossbar MLP: images flattened (resized to ``input_size`` squared
    when set), analog layers of ``hidden`` sizes then 10 outputs, digital ReLU between."""

    hidden: list[int] = Field(default_factory=lambda: [32, 16], min_length=1, max_length=8)
    input_size: int | None = Field(None, ge=2, le=256)
    readout_temperature: float = Field(1.0, gt=0)


class FourierConfig(_Section):
    """Single-mask Fourier-plane PNN: input phase-encoded on an ``neurons x neurons`` SLM
    region (image resized to ``input_size``, phase ``input_phase`` rad at full pixel value),
    trainable mask on the same SLM, lens, camera window of ``window x window`` samples of the
    ``pad``-times padded Fourier grid, ten ``detector_size`` square regions."""

    neurons: int = Field(32, ge=4, le=1024)
    pad: int = Field(2, ge=1, le=8)
    window: int = Field(24, ge=4, le=4096)
    input_size: int = Field(24, ge=2)
    input_phase: float = Field(3.141592653589793, gt=0, le=12.6)
    beam_waist: float | None = Field(
        1.0, gt=0, description="nominal 1/e^2 beam radius / half the region width; null: flat"
    )
    init_std: float = Field(0.0, ge=0)
    detector_size: int = Field(3, ge=1)
    detector_layout: str = "grid3-4-3"
    readout_temperature: float = Field(10.0, gt=0)


class DataConfig(_Section):
    name: Literal["digits", "mnist", "fashion-mnist"] = "digits"
    root: str | None = None
    download: bool = False
    train_samples: int | None = Field(None, ge=1)
    val_fraction: float = Field(0.1, ge=0, le=0.5)
    val_samples: int | None = Field(None, ge=1)
    test_samples: int | None = Field(None, ge=1)


class ErrorsConfig(_Section):
    """Hidden systematic errors of the simulated device and its detector noise."""

    bs_std: float = Field(0.06, ge=0, lt=0.5)
    ps_std: float = Field(0.06, ge=0)
    crosstalk: float = Field(0.0, ge=0, le=0.5)
    loss_db_mean: float = Field(0.0, ge=0)
    loss_db_std: float = Field(0.0, ge=0)
    # diffractive PNN (SI units; see photonic_dat.errors.specs.DiffractiveErrorSpec)
    shift_std: float = Field(0.0, ge=0, description="lateral misalignment per layer (m)")
    rotation_std: float = Field(0.0, ge=0, description="in-plane rotation per layer (rad)")
    distance_std: float = Field(0.0, ge=0, description="axial error per gap (m)")
    phase_gain_std: float = Field(0.0, ge=0, description="modulator gain error (fraction)")
    phase_gamma_std: float = Field(0.0, ge=0, description="response-curve exponent error")
    phase_levels: int | None = Field(None, ge=2, le=65536, description="phase quantisation")
    pixel_phase_std: float = Field(0.0, ge=0, description="per-pixel fabrication error (rad)")
    fringing_sigma: float = Field(0.0, ge=0, description="pixel crosstalk blur std (m)")
    fill_factor: float = Field(1.0, gt=0, le=1, description="active area fraction of a pixel")
    illumination_waist: float | None = Field(None, gt=0, description="Gaussian beam waist (m)")
    illumination_tilt_std: float = Field(0.0, ge=0, description="illumination tilt (rad)")
    #: analog crossbar (model: crossbar); see photonic_dat.errors.crossbar
    crossbar: CrossbarErrorSpec = Field(default_factory=CrossbarErrorSpec)
    #: SLM + camera lab (model: fourier, system.kind: slmsuite); see photonic_dat.errors.slm_lab
    slm: SLMLabErrorSpec = Field(default_factory=SLMLabErrorSpec)
    seed: int = Field(0, ge=0)


class SEPNConfig(_Section):
    kind: Literal["unet", "resnet"] = "unet"
    features: list[int] = Field(default_factory=lambda: [4, 8, 16], min_length=1, max_length=5)
    kernel_size: int = Field(3, ge=1, le=9)
    convs_per_level: int = Field(3, ge=1, le=8)
    channels: int = Field(8, ge=1, le=128)
    num_blocks: int = Field(3, ge=1, le=16)
    working_size: int | None = Field(None, ge=4)
    #: a learned complex factor per pixel next to the CNN (position-dependent errors such as
    #: misaligned or perturbed masks, which a convolutional network cannot represent)
    pixel_map: bool = False
    #: SEPN of a real (or non-square complex) vector state: MLP width and number of layers
    hidden: int = Field(64, ge=1, le=4096)
    depth: int = Field(2, ge=1, le=8)


class DATConfig(_Section):
    internal_states: Literal["none", "unitary", "separable"] = "unitary"
    sepn: SEPNConfig = Field(default_factory=SEPNConfig)
    sepn_weight: float = Field(1.0, ge=0)
    sepn_start_epoch: int = Field(20, ge=0)
    sepn_gradient: Literal["through", "stop"] = "through"
    #: similarity at the output plane on every measured detector pixel / port ("plane") or
    #: on the readout's normalised class signals only ("readout", the reference code's)
    output_similarity: Literal["plane", "readout"] = "plane"
    lr: float = Field(1e-3, gt=0)
    #: when the reference pattern shows drift (train.drift_threshold), this many extra
    #: similarity updates of the SEPNs on the next measured batch (0: none)
    refit_steps: int = Field(0, ge=0, le=10000)


class CalibrationConfig(_Section):
    """The calibration baseline (photonic_dat.calibration): probes, then a fitted twin.

    ``method: calibration`` always calibrates and then trains in silico on the fitted twin;
    ``enabled: true`` makes PAT or DAT start from the fitted twin as well. ``frames`` is the
    probe budget (frames over all planes); unset, it is what DAT with internal states spends
    training on the same config (epochs x training samples x measured planes), so that the
    two are compared at equal frames.
    """

    enabled: bool = False
    frames: int | None = Field(None, ge=1)
    settings: int = Field(8, ge=0, description="random parameter settings probed")
    batch_size: int = Field(100, ge=1)
    steps_per_batch: int = Field(2, ge=1)
    lr: float = Field(0.02, gt=0, description="Adam, cosine-decayed over the probe rounds")


class TrainConfig(_Section):
    epochs: int = Field(50, ge=1)
    batch_size: int = Field(500, ge=1)
    eval_batch_size: int = Field(2000, ge=1)
    lr: float = Field(1e-3, gt=0)
    lr_step: int = Field(10, ge=1)
    lr_gamma: float = Field(0.5, gt=0, le=1)
    threads: int | None = Field(None, ge=1)
    progress: bool = True
    #: measure the test split at the end (tuning runs never do: only the chosen
    #: configuration's runs are tested, once)
    measure_test: bool = True
    #: a checkpoint every this many batches (besides the one after every epoch)
    checkpoint_every: int | None = Field(None, ge=1)
    #: checkpoints kept (the newest); more than one lets a resume pass a damaged newest one
    keep_checkpoints: int = Field(2, ge=1)
    #: stream metrics to RUN_DIR/tensorboard (needs the tensorboard extra)
    tensorboard: bool = False
    #: measure a fixed reference pattern every N training steps (0: never) to watch drift
    reference_every: int = Field(0, ge=0)
    reference_samples: int = Field(8, ge=1, le=1000)
    #: relative change of the reference that counts as drift (null: only logged): the method
    #: is told (DAT refits its SEPNs with dat.refit_steps) and model selection starts again
    drift_threshold: float | None = Field(None, gt=0)

    #: where the twin, the SEPNs, the data batches and the simulated device compute: "auto"
    #: (a CUDA GPU if torch sees one, else the CPU), "cpu", "cuda" or "cuda:N"
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")


class TimingsConfig(_Section):
    """Declared device timings in seconds (see photonic_dat.systems.timing)."""

    upload_s: float = Field(0.0, ge=0, le=3600, description="write + settle one parameter set")
    frame_s: float = Field(0.0, ge=0, le=3600, description="one exposure of one plane")
    readout_s: float = Field(0.0, ge=0, le=3600, description="reading one frame out")


class DriftConfig(_Section):
    """Slow drift of the simulated device (see photonic_dat.systems.drift); the clock is the
    number of input samples the device has measured."""

    phase_std: float = Field(0.0, ge=0, le=10, description="phase offsets when complete (rad)")
    power: float = Field(0.0, gt=-1, le=10, description="laser power change when complete")
    onset: int = Field(0, ge=0, description="samples measured before the drift starts")
    duration: int = Field(0, ge=0, description="samples over which it grows (0: a step)")


class DetectorConfig(_Section):
    """The detector of every measured plane (see photonic_dat.systems.detector.DetectorSpec
    for each key's meaning and realistic range)."""

    model: Literal["ideal", "camera"] = "ideal"
    full_well: float = Field(14_800.0, gt=0, description="e- at full scale")
    read_noise: float = Field(2.5, ge=0, description="e- rms per read")
    adc_bits: int = Field(12, ge=1, le=24)
    black_level: float = Field(64.0, ge=0, description="dark offset, counts")
    dark_nonuniformity: float = Field(2.0, ge=0, description="per-pixel dark offset, counts rms")
    dark_frames: int = Field(16, ge=1)
    exposure_fraction: float = Field(0.5, gt=0, le=1)
    max_saturated: float = Field(1e-3, ge=0, le=1)


class SLMSuiteConfig(LabDesign):
    """The simulated slmsuite lab's hardware (:class:`~photonic_dat.systems.slmsuite_lab.
    LabDesign`) and its camera calibration (:class:`~photonic_dat.systems.slm_camera.
    CameraCalibrationSettings`); ``calibration``: a directory with a stored camera
    calibration (``photonic-dat calibrate``) to reuse instead of calibrating again."""

    dark_frames: int = Field(8, ge=1, le=1000)
    exposure_fraction: float = Field(0.8, gt=0, le=1)
    orders: int = Field(4, ge=1)
    order_step: int = Field(2, ge=1)
    spot_radius: int = Field(4, ge=1)
    supersample: int = Field(1, ge=1, le=8)
    calibration: str | None = None


class SystemConfig(_Section):
    """The physical system the trainer talks to, and what it offers.

    ``kind`` names the system: ``simulated`` (the family's simulated device with hidden,
    seeded errors; our simulated crossbar for ``model: crossbar``), ``slmsuite`` (slmsuite's
    simulated SLM and camera, ``model: fourier``), ``aihwkit`` (IBM aihwkit's PCM crossbar,
    ``model: crossbar``), ``replay`` (serves the measurement log of ``replay_from`` back),
    ``remote`` (a measurement server at ``address``, started with ``photonic-dat serve``).
    Adapters for other systems register further kinds. ``record`` appends every measurement
    to the crash-safe log ``RUN_DIR/measurements`` (HDF5; needs the ``log`` extra).
    """

    kind: Literal["simulated", "replay", "slmsuite", "aihwkit", "remote"] = "simulated"
    record: bool = False
    replay_from: str | None = Field(None, description="run directory or its measurements/")
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    #: simulated diffractive device: samples per modulator pixel of its fine grid
    samples_per_pixel: int = Field(4, ge=1, le=16)
    #: interference PNN: the output photodiodes sit on all ports or on the readout ports only
    output_ports: Literal["all", "readout"] = "all"
    internal_taps: bool = True
    block_access: bool = True
    slmsuite: SLMSuiteConfig = Field(default_factory=SLMSuiteConfig)
    # the simulated device's timings, pacing and drift
    timings: TimingsConfig = Field(default_factory=TimingsConfig)
    emulate_timings: bool = Field(False, description="the simulated device takes that long")
    drift: DriftConfig = Field(default_factory=DriftConfig)
    # a remote device
    address: str | None = Field(
        None, pattern=r"^tcp://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):[0-9]{1,5}$"
    )
    key_file: str | None = None
    timeout_s: float = Field(10.0, gt=0, le=3600)
    retries: int = Field(3, ge=0, le=20)
    sentinels: int = Field(2, ge=0, le=16)
    sentinel_tolerance: float = Field(0.05, gt=0, le=1)
    frame_retries: int = Field(2, ge=0, le=10)
    #: a remote device measures in the background while the trainer computes what does not
    #: need the measurement (DAT's similarity forward)
    overlap: bool = True

    @model_validator(mode="after")
    def _check(self) -> SystemConfig:
        if self.kind == "remote" and self.address is None:
            raise ValueError("system.kind=remote needs system.address: tcp://HOST:PORT")
        if self.sentinels == 1:
            raise ValueError("system.sentinels: 0 (no lag check) or at least 2")
        return self


class RunConfig(_Section):
    """One run: the PNN family and its section, the method, data, the device's errors, the
    physical system, DAT's and the training schedule's settings (``seed``: the trainer's
    streams; ``errors.seed``: the device's)."""

    model: Literal["mpnn", "dpnn", "crossbar", "fourier"] = "mpnn"
    method: Literal["insilico", "calibration", "pat", "dat"] = "dat"
    seed: int = Field(0, ge=0)
    mpnn: MPNNConfig = Field(default_factory=MPNNConfig)
    dpnn: DPNNConfig = Field(default_factory=DPNNConfig)
    crossbar: CrossbarConfig = Field(default_factory=CrossbarConfig)
    fourier: FourierConfig = Field(default_factory=FourierConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    errors: ErrorsConfig = Field(default_factory=ErrorsConfig)
    system: SystemConfig = Field(default_factory=SystemConfig)
    dat: DATConfig = Field(default_factory=DATConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    #: per-method overrides chosen by ``photonic-dat tune`` on the validation split, keyed by
    #: method spec (``insilico``, ``calibration``, ``pat``, ``dat-none``, ``dat-unitary``, ...);
    #: ``compare`` applies them to each method's run
    tuned: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        crop = self.mpnn.fft_crop
        if crop is not None and crop * crop > self.mpnn.ports:
            raise ValueError(f"mpnn.fft_crop={crop} gives {crop * crop} inputs > mpnn.ports")
        if self.system.kind == "replay" and not self.system.replay_from:
            raise ValueError("system.kind=replay needs system.replay_from (a run directory)")
        return self
