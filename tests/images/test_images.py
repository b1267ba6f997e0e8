"""Smoke test of examples/images.c on made-up 8 x 8 IDX images.

usage: test_images.py IMAGES_PROGRAM WORKDIR

Writes 64 training images (uncompressed IDX) and 16 test images (gzip'd IDX,
read through gzip -dc), runs a few steps of a joint diagonal model, of a
staged low-rank one, of a denoiser (--set) and of a staged denoiser with
residual D2SM, and checks: exit status 0, one JSON line per weights with
finite numbers (the per-decile variances and errors consistent with their
ratios), and PNGs whose signature, chunk CRCs, IHDR and zlib stream (stored
blocks, Adler-32) are valid.
"""
import gzip
import json
import math
import os
import random
import struct
import subprocess
import sys
import zlib


def idx_bytes(images, side):
    head = struct.pack(">IIII", 0x803, len(images), side, side)
    return head + bytes(v for img in images for v in img)


def made_up_images(n, side, rng):
    """A bright square of random size and place on a dark, noisy ground."""
    out = []
    for _ in range(n):
        r0, c0, s = rng.randrange(4), rng.randrange(4), rng.randrange(2, 5)
        img = [rng.randrange(30) for _ in range(side * side)]
        for r in range(r0, r0 + s):
            for c in range(c0, c0 + s):
                img[r * side + c] = 200 + rng.randrange(56)
        out.append(img)
    return out


def check_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body), "bad CRC in %s" % kind
        chunks.append((kind, body))
        pos += 12 + n
    kinds = [k for k, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND", kinds
    w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and colour == 0 and interlace == 0
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    assert len(raw) == h * (w + 1), "IDAT holds %d bytes" % len(raw)
    assert all(raw[r * (w + 1)] == 0 for r in range(h)), "a row filter is not 0"
    return w, h


def run(prog, work, tag, extra):
    cmd = [prog, "--train", os.path.join(work, "train.idx"),
           "--test", os.path.join(work, "test.idx.gz"), "--sigmas", "0.3",
           "--ntest", "8", "--hidden", "16", "--depth", "1", "--s2-hidden", "16",
           "--steps", "5", "--batch", "16", "--grid", "3", "--topk", "2",
           "--out", work, "--tag", tag, "--log-every", "2", "--eval-every", "2"] + extra
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=100)
    assert res.returncode == 0, "exit %d: %s" % (res.returncode, res.stderr)
    lines = [json.loads(l) for l in res.stdout.splitlines() if l.startswith("{")]
    assert [l["weights"] for l in lines] == ["final", "ema"], res.stdout
    if "--jacobian-var" in extra:
        for l in lines:
            assert math.isfinite(l["jac_calib"]) and len(l["jac_calib_deciles"]) == 10, l
    want = extra[extra.index("--set") + 1] if "--set" in extra else ""
    assert lines[0]["set"] == want, lines[0]["set"]
    for l in lines:
        for key in ("psnr_noisy", "psnr_wiener", "psnr_blur", "psnr_tweedie", "calib",
                    "calib_corr", "wiener_calib"):
            assert math.isfinite(l[key]), "%s = %r" % (key, l[key])
        assert len(l["calib_deciles"]) == 10
        # per decile: mean predicted variance and squared error, whose ratio is the decile's
        var, mse = l["calib_var_deciles"], l["calib_mse_deciles"]
        assert len(var) == 10 and len(mse) == 10, l
        for v, e, r in zip(var, mse, l["calib_deciles"]):
            assert v >= 0 and e >= 0 and math.isfinite(v) and math.isfinite(e), (v, e)
            assert e == 0 or abs(v / e - r) <= 1e-3 * max(1.0, r), (v, e, r)
        assert l["psnr_wiener"] > l["psnr_noisy"], l
        if "s2_head=logvar" in want:  # positive variances: the likelihoods are finite
            keys = ("nll_image", "corr_gain") if "lowrank" in extra else ("nll_image",)
            for key in keys:
                assert math.isfinite(l[key]), "%s = %r" % (key, l.get(key))
        w, h = check_png(os.path.join(work, "%s-sigma0.3-%s.png" % (tag, l["weights"])))
        assert (w, h) == ((7 * 9 + 1) * 2, (3 * 9 + 1) * 2), (w, h)
    print(tag, "ok:", lines[-1]["psnr_tweedie"], "dB")


def main():
    prog, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = random.Random(5)
    with open(os.path.join(work, "train.idx"), "wb") as f:
        f.write(idx_bytes(made_up_images(64, 8, rng), 8))
    with gzip.open(os.path.join(work, "test.idx.gz"), "wb") as f:
        f.write(idx_bytes(made_up_images(16, 8, rng), 8))
    run(prog, work, "diag", [])
    run(prog, work, "lowrank", ["--s2", "lowrank", "--rank", "2", "--s1-steps", "3"])
    run(prog, work, "lowrank-nll", ["--s2", "lowrank", "--rank", "2", "--s1-steps", "3",
                                    "--s2-objective", "d2sm_res_nll",
                                    "--set", "s2_head=logvar nll_marginal=1"])
    run(prog, work, "denoiser", ["--set", "parameterization=denoiser", "--jacobian-var", "4"])
    run(prog, work, "residual", ["--set", "parameterization=denoiser s2_objective=d2sm_res",
                                 "--s1-steps", "3"])


if __name__ == "__main__":
    main()
