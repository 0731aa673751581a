# Type stub of the compiled cffi module (built by _build.py from csrc/).
from typing import Any

ffi: Any
lib: Any
