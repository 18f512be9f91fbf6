"""The input layer shared by ``check`` and ``derive``: representations, orbits, tasks, JSON reading, kernels.

* :mod:`.representation` — N x d matrices (``.npy``, ``.npz``, arrays), streamed in row chunks;
* :mod:`.orbits` — the partition of the N points into C augmentation orbits (three JSON forms);
* :mod:`.tasks` — invariant downstream tasks (one label per orbit);
* :mod:`.jsonio` — strict JSON reading and value validation (one ``InputError`` line per failure);
* :mod:`.kernels` — the optional compiled kernels of ``_kernels.c`` (NumPy fallbacks elsewhere).

Every bad input becomes one :class:`idealssl.errors.InputError`. Nothing here imports torch.
"""

from .orbits import Orbits, load_orbits
from .representation import Representation, from_array, load_representation
from .tasks import Task, load_task

__all__ = ["Orbits", "load_orbits", "Representation", "from_array", "load_representation", "Task", "load_task"]
