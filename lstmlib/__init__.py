"""lstmlib: the LSTM cell of "LSTM, Gate by Gate", one equation per function, in numpy."""

from lstmlib.activations import concat, gate, pointwise_add, pointwise_mul, sigmoid, tanh
from lstmlib.cell import (
    GATES,
    VARIANTS,
    LSTMCell,
    Step,
    StepGrads,
    Trace,
    backward_step,
    candidate,
    cell_state,
    forget_gate,
    hidden_state,
    input_gate,
    output_gate,
)
from lstmlib.gru import GRUCell
from lstmlib.protocol import Cell
from lstmlib.rnn import RNNCell, RNNStep, RNNTrace, rnn_hidden

__all__ = [
    "GATES", "VARIANTS", "Cell", "GRUCell", "LSTMCell", "RNNCell", "RNNStep", "RNNTrace", "Step",
    "StepGrads", "Trace", "backward_step", "candidate", "cell_state", "concat", "forget_gate",
    "gate", "hidden_state", "input_gate", "output_gate",
    "pointwise_add", "pointwise_mul", "rnn_hidden", "sigmoid", "tanh",
]
__version__ = "0.1.0"
