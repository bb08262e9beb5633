"""Non-idealities of an analog in-memory crossbar (the ``errors.crossbar`` keys).

One typed model is the single source of these keys: the configuration uses it as its
``errors.crossbar`` section and both crossbar systems read it. Conductances are in units of
``g_max`` and input voltages in units of the DAC's full scale, so that a column current of 1
is one fully-on cell driven at full input.

Defaults are realistic tolerances, fixed before any training (sources in each field's
description): the periphery (DAC, ADC, read noise, output bound, tile size) follows the
defaults of IBM's aihwkit ``IOParameters`` / ``MappingParameter``, which model its PCM
inference chips; the programming errors of our simulated crossbar follow published
write-verify precisions and stuck-cell rates of RRAM/PCM arrays; the PCM keys are aihwkit's
``PCMLikeNoiseModel`` (fitted to measured PCM devices, Nandakumar et al., ICECS 2019).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CrossbarErrorSpec"]


class CrossbarErrorSpec(BaseModel):
    """Errors of a crossbar device (both the simulated crossbar and aihwkit's read them).

    Fixed per device (drawn once from ``errors.seed``; our simulated crossbar only):
        gain_std: relative programming error of each cell, ``g = g_target (1 + N(0, std))``;
            write-verify programming of RRAM/PCM reaches 2-5 % of g_max (e.g. Le Gallo et
            al., Nat. Electron. 2023; Wan et al., Nature 2022).
        offset_std: additive conductance error of each cell (finite on/off ratio, g_min
            spread), fraction of g_max; on/off ratios of 10-100 with ~30 % spread give ~1 %.
        stuck_on, stuck_off: fractions of cells stuck at g_max / at 0 whatever is
            programmed; mature arrays report below 1 % in all (prototype RRAM up to ~10 %,
            Chen et al., DATE 2017).
        wire_resistance: row and column wire resistance per cell times g_max
            (dimensionless, first-order IR drop); aihwkit's default 0.15 Ohm per cell at
            g_max = 25 uS gives 3.75e-6.

    Periphery (both systems):
        dac_bits: signed input DAC resolution after per-sample abs-max scaling (aihwkit:
            ``inp_res = 1/126``, 8 bits signed).
        adc_bits: signed ADC resolution over ``[-adc_bound, adc_bound]`` (aihwkit:
            ``out_res = 1/510``, 9 bits signed).
        adc_bound: ADC full scale in column-current units (aihwkit ``out_bound = 12``).
        read_noise: std of the additive output noise per read, column-current units
            (aihwkit ``out_noise = 0.06``).
        tile_rows: rows per physical array; longer inputs are split over tiles whose
            partial sums are added digitally (aihwkit ``max_input_size = 512``).

    PCM (aihwkit only; ``PCMLikeNoiseModel`` scales, 1 = the fitted device):
        pcm_g_max: maximal conductance (uS).
        pcm_prog_noise_scale, pcm_read_noise_scale, pcm_drift_scale: scales of the fitted
            programming noise, 1/f read noise and drift coefficients.
        t_inference: seconds between programming and reading (drift; compensated by
            aihwkit's global drift compensation). One hour.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    gain_std: float = Field(0.05, ge=0, le=0.5)
    offset_std: float = Field(0.01, ge=0, le=0.5)
    stuck_on: float = Field(0.005, ge=0, le=0.5)
    stuck_off: float = Field(0.005, ge=0, le=0.5)
    wire_resistance: float = Field(3.75e-6, ge=0, le=1e-3)
    dac_bits: int | None = Field(8, ge=2, le=24)
    adc_bits: int | None = Field(9, ge=2, le=24)
    adc_bound: float = Field(12.0, gt=0)
    read_noise: float = Field(0.06, ge=0)
    tile_rows: int = Field(512, ge=1)
    pcm_g_max: float = Field(25.0, gt=0)
    pcm_prog_noise_scale: float = Field(1.0, ge=0)
    pcm_read_noise_scale: float = Field(1.0, ge=0)
    pcm_drift_scale: float = Field(1.0, ge=0)
    t_inference: float = Field(3600.0, ge=0)

    @property
    def is_ideal(self) -> bool:
        """No fixed error, no quantisation, no noise (an ideal matrix product)."""
        return (
            self.gain_std == self.offset_std == self.stuck_on == self.stuck_off == 0
            and self.wire_resistance == 0
            and self.dac_bits is None
            and self.adc_bits is None
            and self.read_noise == 0
        )
