"""Build script for minikws' optional C/Cython LSTM kernel.

Everything declarative lives in pyproject.toml; this file only adds the extension. The extension is
``optional``: where no C compiler is available the build prints a warning and the package installs
and runs on its NumPy path (``minikws info`` says which backend is active).
"""
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
PYX = os.path.join("minikws", "_lstm_kernel.pyx")


def kernel_extensions():
    if not os.path.exists(os.path.join(HERE, PYX)):
        return []
    import numpy
    from Cython.Build import cythonize

    ext = Extension(
        "minikws._lstm_kernel",
        sources=[PYX] + [os.path.join("csrc", f)
                         for f in ("lstm_cell.c", "lstm_gemm.c", "parallel.c")],
        # rebuilt when they change; shipped in the sdist
        depends=[os.path.join("csrc", f) for f in ("lstm_cell.h", "lstm_gemm.h", "parallel.h")],
        include_dirs=[numpy.get_include(), "csrc"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        # -ffp-contract=fast lets a*b+c become one FMA where the CPU has it; -fno-trapping-math lets
        # GCC vectorise the clamps of the cell's sigmoid/tanh (minikws reads no FP exception flags).
        extra_compile_args=["-O3", "-std=c99", "-ffp-contract=fast", "-fno-trapping-math"]
        + (["-pthread"] if os.name == "posix" else []),
        # csrc/parallel.c starts threads (in libc itself since glibc 2.34; -pthread for older ones)
        extra_link_args=["-pthread"] if os.name == "posix" else [],
        optional=True,
    )
    extensions = cythonize(
        [ext],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )
    for e in extensions:  # cythonize makes new Extension objects and drops `optional`
        e.optional = True
    return extensions


setup(ext_modules=kernel_extensions())
