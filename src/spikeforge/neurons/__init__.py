"""snnTorch-compatible stateful neurons."""

from ._base import LIF, SpikingNeuron
from .alpha import Alpha, AlphaState
from .associative import AssociativeLeaky
from .deltaleaky import DeltaLeaky
from .iaf import IAF
from .lapicque import Lapicque, LapicqueState
from .leaky import Leaky, LeakyState
from .leakyparallel import LeakyParallel
from .linearleaky import LinearLeaky
from .refractory import GradedRefractory, GradedRefractoryState
from .rleaky import RLeaky, RLeakyState
from .rsynaptic import RSynaptic, RSynapticState
from .sconv2dlstm import SConv2dLSTM, SConv2dLSTMState
from .slstm import SLSTM, SLSTMState
from .stateleaky import StateLeaky
from .synaptic import Synaptic, SynapticState
from .synapticdelay import SynapticDelay

__all__ = [
    "IAF",
    "LIF",
    "SLSTM",
    "Alpha",
    "AlphaState",
    "AssociativeLeaky",
    "DeltaLeaky",
    "GradedRefractory",
    "GradedRefractoryState",
    "Lapicque",
    "LapicqueState",
    "Leaky",
    "LeakyParallel",
    "LeakyState",
    "LinearLeaky",
    "RLeaky",
    "RLeakyState",
    "RSynaptic",
    "RSynapticState",
    "SConv2dLSTM",
    "SConv2dLSTMState",
    "SLSTMState",
    "SpikingNeuron",
    "StateLeaky",
    "Synaptic",
    "SynapticDelay",
    "SynapticState",
]
