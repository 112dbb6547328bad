# Spack recipe for libdetshim.
#
# Copy this file to <your spack repo>/packages/libdetshim/package.py (Spack >= 1.0, with
# the spack-packages build systems) or <repo>/packages/libdetshim/package.py of an older
# Spack; both import paths are handled below.  Set `git` (and add `version(...)` lines
# with checksums) to the place the project is published; until then a checkout can be
# built with `spack develop libdetshim@main` / `spack dev-build`.
#
# Run-time environment: `spack load libdetshim` (or its module) puts `detshim` on PATH
# and sets DETSHIM_LIB; it never sets LD_PRELOAD: start programs with
# `detshim run -- CMD`, or preload the library yourself for one launch.

import os

from spack.package import *  # noqa: F401,F403

try:  # Spack >= 1.0: the build systems live in the builtin package repository
    from spack_repo.builtin.build_systems.meson import MesonPackage  # noqa: F811
except ImportError:  # older Spack exports MesonPackage from spack.package
    pass


class Libdetshim(MesonPackage):
    """Preloadable library (LD_PRELOAD=libdetshim.so) that makes CUDA training runs
    bitwise reproducible and logs every nondeterministic call with its backtrace,
    with the `detshim` command (run, check, report, diff, env) and Lmod/Tcl
    modulefiles."""

    homepage = "https://example.invalid/libdetshim"  # set to the project's page
    git = "https://example.invalid/libdetshim.git"  # set to the project's repository

    license("MIT")

    version("main", branch="main")

    variant(
        "cuda_headers",
        default="spack",
        values=("spack", "system"),
        description="Where the CUDA and cuDNN headers come from (headers only: the shim "
        "never links a vendor library): spack = the cuda and cudnn packages; system = "
        "the toolkit_include_dir variant, or CUDA_PATH / CUDA_HOME / /usr/local/cuda",
    )
    variant(
        "toolkit_include_dir",
        default="none",
        values=str,
        description="With cuda_headers=system: the directory holding cuda.h, "
        "cublas_api.h, cublasLt.h and cudnn.h",
    )

    depends_on("c", type="build")
    depends_on("meson@1.0:", type="build")
    depends_on("ninja", type="build")
    depends_on("pkgconfig", type="build")
    depends_on("libunwind")
    depends_on("check", type="test")
    depends_on("python@3.8:", type="run")  # the detshim command (standard library only)
    with when("cuda_headers=spack"):
        depends_on("cuda", type="build")
        depends_on("cudnn", type="build")

    conflicts("platform=darwin", msg="libdetshim interposes ELF symbols (Linux only)")
    conflicts("platform=windows", msg="libdetshim interposes ELF symbols (Linux only)")

    def _include_dir(self):
        """One directory with the CUDA and cuDNN headers.

        The build takes a single include directory (-Dtoolkit_include_dir) while Spack
        installs cuda and cudnn in two prefixes: link both header sets into one
        directory of the stage."""
        spec = self.spec
        merged = join_path(self.stage.path, "detshim-cuda-include")
        mkdirp(merged)
        for dep in ("cuda", "cudnn"):
            inc = spec[dep].prefix.include
            if not os.path.isdir(inc):
                continue
            for name in os.listdir(inc):
                link = join_path(merged, name)
                if not os.path.lexists(link):
                    os.symlink(join_path(inc, name), link)
        return merged

    def meson_args(self):
        args = ["-Dtests={0}".format("true" if self.run_tests else "false")]
        if self.spec.satisfies("cuda_headers=spack"):
            args.append("-Dtoolkit_include_dir={0}".format(self._include_dir()))
        else:
            inc = self.spec.variants["toolkit_include_dir"].value
            if inc != "none":
                args.append("-Dtoolkit_include_dir={0}".format(inc))
        return args

    @property
    def detshim_lib(self):
        return join_path(self.prefix.lib, "libdetshim.so")

    def setup_run_environment(self, env):
        # The command and the modulefiles find the library through DETSHIM_LIB.
        # Nothing goes into LD_PRELOAD: that would put the shim into every program
        # started from the environment, Spack's own tools included.
        env.set("DETSHIM_LIB", self.detshim_lib)

    # ---- stand-alone tests (spack test run libdetshim) --------------------------------
    def test_preload_pins(self):
        """a program started with the library preloaded sees the shim's pins"""
        python = which("python3", required=True)
        saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "DETSHIM_MODE")}
        os.environ["LD_PRELOAD"] = self.detshim_lib  # for this one command only
        os.environ["DETSHIM_MODE"] = "enforce"
        try:
            out = python(
                "-c",
                "import os; print(os.environ.get('CUBLAS_WORKSPACE_CONFIG'))",
                output=str.split,
                error=str.split,
            )
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        assert ":4096:8" in out, "expected the shim to pin CUBLAS_WORKSPACE_CONFIG, got %r" % out

    def test_detshim_env(self):
        """the detshim command reports the pins it observes"""
        detshim = which(join_path(self.prefix.bin, "detshim"), required=True)
        out = detshim("env", output=str.split, error=str.split)
        assert "CUBLAS_WORKSPACE_CONFIG=:4096:8" in out, out
