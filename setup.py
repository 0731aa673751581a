# setup.py exists only because cffi_modules cannot be written in pyproject.toml.
from setuptools import setup

setup(cffi_modules=["ruvector_cffi/_build.py:ffibuilder"])
