"""Calibration: what a lab does before training.

Fit the device's explicit error parameters (MZI meshes: beamsplitter splits and phase
offsets; diffractive layers: shifts, rotations, gap distances and the modulator's phase
response) to probe measurements, and give the twin those errors
(:attr:`photonic_dat.models.pnn.PNN.known_errors`). The ``calibration`` method then trains in
silico on the calibrated twin; DAT and PAT can start from it (``calibration.enabled``).
"""

from photonic_dat.calibration.fit import CalibrationSettings, calibrate
from photonic_dat.calibration.parameters import ErrorModel

__all__ = ["CalibrationSettings", "ErrorModel", "calibrate"]
