"""Builds the optional Cython fast paths in native/; falls back to pure Python
with a warning when no compiler (or Cython) is available."""
import glob
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler: the pure-Python twins are used
            sys.stderr.write("WARNING: native extensions not built (%s); using pure Python\n" % exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            sys.stderr.write("WARNING: %s not built (%s); using pure Python\n" % (ext.name, exc))


def extensions():
    sources = sorted(glob.glob("native/*.pyx"))
    if not sources:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        sys.stderr.write("WARNING: Cython missing; native extensions not built\n")
        return []
    return cythonize(sources, compiler_directives={"language_level": 3}, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
