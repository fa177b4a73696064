"""Builds the optional Cython fast paths in native/; falls back to pure Python
with a warning when no compiler (or Cython) is available."""
import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler: the pure-Python twins are used
            sys.stderr.write("WARNING: native extensions not built (%s); using pure Python\n" % exc)

    def copy_file(self, infile, outfile, *args, **kwargs):
        # A new inode for the rebuilt module: running servers keep the old one mapped.
        if outfile.endswith((".so", ".pyd")) and os.path.exists(outfile):
            os.unlink(outfile)
        return super().copy_file(infile, outfile, *args, **kwargs)

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
    try:
        return cythonize(sources, compiler_directives={"language_level": 3}, quiet=True)
    except Exception as exc:  # a .pyx that does not translate: keep the pure-Python twins
        sys.stderr.write("WARNING: Cython failed (%s); native extensions not built\n" % exc)
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
