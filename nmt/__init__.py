"""nmt: English-French RNN neural machine translation."""

__version__ = "0.1.0"
