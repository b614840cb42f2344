"""`headsynth model`: summary, identity grid, component sweep and mesh export of a model."""

from headsynth.components.face_model.inspect_model import add_model_arguments as add_arguments
from headsynth.components.face_model.inspect_model import model_command as command

__all__ = ["add_arguments", "command"]
