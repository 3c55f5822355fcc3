"""The equilibrium token loop, built on the four components.

* :mod:`.confidence`: the factors and the weighted geometric product.
* :mod:`.data`: built-in corpus, conversation stream and simulated user.
"""

from .confidence import Factors, combine_confidence
from .data import ConversationStream, SimulatedUser, default_corpus

__all__ = ["Factors", "combine_confidence", "ConversationStream", "SimulatedUser", "default_corpus"]
