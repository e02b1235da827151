"""A stand-in for OpenFace's ``FaceLandmarkImg`` (test helper): an executable script that writes OpenFace CSVs.

It takes the arguments ``run_face_landmark_img`` passes (``-fdir IMAGES -out_dir OUT -aus``), refuses others as
the real program's argument checks would not (so a test sees exactly what was passed), records its argument list
in ``OUT/argv.json`` and writes ``OUT/<stem>.csv`` per ``.jpg``/``.jpeg``/``.png``/``.bmp`` image, in the Windows
builds' ``", "`` format: ``face, confidence``, the 17 ``_r`` intensities (0-5, two decimals, different per image)
and the 18 ``_c`` presence columns. An image whose name contains ``noface`` gets no CSV, as OpenFace does.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from ganimation_lib.aus import AU_NAMES

from .openface_files import PRESENCE

_SCRIPT = """#!{python}
import json, os, sys, zlib
argv = sys.argv[1:]
if {fail!r}:
    sys.stderr.write({stderr!r})
    sys.exit({exit_code})
if "-aus" not in argv or "-fdir" not in argv or "-out_dir" not in argv:
    sys.stderr.write("stand-in: expected -fdir DIR -out_dir DIR -aus, got %r\\n" % argv)
    sys.exit(9)
fdir, out = argv[argv.index("-fdir") + 1], argv[argv.index("-out_dir") + 1]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "argv.json"), "w") as handle:
    json.dump(argv, handle)
header = ["face", "confidence"] + [a + "_r" for a in {aus!r}] + [a + "_c" for a in {presence!r}]
for name in sorted(os.listdir(fdir)):
    stem, ext = os.path.splitext(name)
    if ext.lower() not in (".jpg", ".jpeg", ".png", ".bmp") or "noface" in name:
        continue
    seed = zlib.crc32(name.encode())
    intensities = ["%.2f" % (((seed >> i) % 501) / 100) for i in range(len({aus!r}))]
    values = dict(zip({aus!r}, intensities))
    presence = ["1" if float(values.get(a, "0")) > 1 else "0" for a in {presence!r}]  # AU28: no intensity
    with open(os.path.join(out, stem + ".csv"), "w") as handle:
        handle.write(", ".join(header) + "\\n")
        handle.write(", ".join(["0", "0.97"] + intensities + presence) + "\\n")
print("stand-in: processed", fdir)
"""


def write_openface_standin(path: Path, *, exit_code: int = 0, stderr: str = "", executable: bool = True) -> Path:
    """Write the stand-in program at ``path``; with ``exit_code`` other than 0 it prints ``stderr`` and fails."""
    source = _SCRIPT.format(
        python=sys.executable,
        fail=exit_code != 0,
        stderr=stderr,
        exit_code=exit_code,
        aus=list(AU_NAMES),
        presence=list(PRESENCE),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    mode = path.stat().st_mode
    path.chmod(mode | stat.S_IXUSR if executable else mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    return path
