"""The attentional RNN encoder-decoder family; `build_model` is the one entry point."""

from nmt.model.seq2seq import ForwardOutput, Seq2Seq, build_model
from nmt.model.state import DecoderState, EncoderMemory, StepOutput

__all__ = [
    "DecoderState",
    "EncoderMemory",
    "ForwardOutput",
    "Seq2Seq",
    "StepOutput",
    "build_model",
]
