"""Step-Video Video-VAE (version 2, z=64), checkpoint-compatible with `vae/vae_v2.safetensors`.

A causal 3D conv autoencoder: 16x16 spatial and 17->3 temporal compression per chunk of frames
(chunks are coded independently, so the first latent depends only on the first frame). Every
GroupNorm is per frame. Module names follow the official state dict (docs/stepvideo-architecture.md
section 2).

Beyond the official code: spatial tiling (`tile_size`/`tile_overlap` in pixels). The decoder is
split into a low-resolution `trunk` (conv_in, unpatchify, the mid block with its causal attention
over all tokens, level 3 and level 2's res blocks; ~1/10 of the activation memory) that runs on
the full frame, and a high-resolution `head` (the rest) that runs on overlapping spatial tiles,
cross-faded over the central quarter of each overlap. The encoder mirrors this (tiled `stem` =
levels 0-1, full-frame `tail`). Every GroupNorm is per frame over the whole frame, which a tile
cannot see; tile-local statistics (`stats_passes=0`, the usual shortcut) change the function by
percents. The default (`stats_passes=None`) makes them exact: tiles are re-run up to each
GroupNorm in turn, accumulating full-frame statistics over the region each tile owns, at about
(#GroupNorms/2 + 2)x the head's compute while memory stays bounded by the tile. Tiled then equals
untiled to float rounding once (overlap * 3/8) exceeds the head's receptive field (~20 px on the
tiny preset; measured 4e-9 relative, see tests/stepvideo/test_vae.py and benchmarks/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from stepeval.errors import UserError

from .config import VAEConfig

# ------------------------------------------------------------------------------------------------
# Per-frame GroupNorm, with an optional tiling context that supplies full-frame statistics.
# ------------------------------------------------------------------------------------------------


class _TileNormState:
    """Carries GroupNorm statistics across the tiles of one tiled pass.

    Each GroupNorm call inside a tile is identified by its call index (the call order is the same
    for every tile). `stats` (from an earlier pass) replaces the tile-local statistics; when
    `collect` is set, sums over the tile's owned region are accumulated for the next pass.
    """

    def __init__(self, stats: list[tuple[torch.Tensor, torch.Tensor]] | None, collect: bool,
                 stop_after: int | None = None):
        self.stats = stats  # may cover only the first len(stats) calls
        self.collect = collect
        self.stop_after = stop_after  # collect this call's sums, then abandon the tile
        self.sums: list[torch.Tensor] = []  # per call: [3, B, G, T] (count, sum, sum of squares)
        self.index = 0
        self.owned = (0, 1, 0, 1)
        self.tile_hw = (1, 1)

    def begin_tile(self, owned: tuple[int, int, int, int], tile_hw: tuple[int, int]) -> None:
        self.index, self.owned, self.tile_hw = 0, owned, tile_hw

    def finalize(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        out = []
        for s in self.sums:
            n, total, sq = s
            mean = total / n
            out.append((mean, (sq / n - mean * mean).clamp_min(0)))
        return out

    def accumulate(self, i: int, xv: torch.Tensor) -> None:
        if self.stop_after is not None and i < self.stop_after:
            return
        # xv: [B, G, C/G, T, H, W] of this tile; keep only the owned window, scaled to this layer.
        th, tw = self.tile_hw
        sh, sw = xv.shape[-2] / th, xv.shape[-1] / tw
        y0, y1, x0, x1 = self.owned
        region = xv[..., round(y0 * sh):round(y1 * sh), round(x0 * sw):round(x1 * sw)].double()
        count = torch.full_like(region[:, :, 0, :, 0, 0], region[0, 0, :, 0].numel())
        total = region.sum(dim=(2, 4, 5))
        sq = region.pow(2).sum(dim=(2, 4, 5))
        s = torch.stack([count, total, sq])
        j = i if self.stop_after is None else 0
        if j == len(self.sums):
            self.sums.append(s)
        else:
            self.sums[j] += s


class _StopTile(Exception):
    """Raised inside a tile once the GroupNorm layer a pass is measuring has been reached."""


_TILE_NORM: contextvars.ContextVar[_TileNormState | None] = contextvars.ContextVar(
    "stepvideo_vae_tile_norm", default=None
)
# Upstream's VAE rounds every GroupNorm output to bf16 before its SiLU, whatever the run's dtype;
# mirrored on request (`official_norm_rounding`) so a run can match an official one bit for bit.
_ROUND_NORM_BF16: contextvars.ContextVar[bool] = contextvars.ContextVar("stepvideo_vae_round_norm", default=False)


@contextlib.contextmanager
def official_norm_rounding(enabled: bool = True):
    """Within this block every VAE GroupNorm output is rounded through bf16 (upstream's numerics)."""
    token = _ROUND_NORM_BF16.set(enabled)
    try:
        yield
    finally:
        _ROUND_NORM_BF16.reset(token)


class GroupNormPerFrame(nn.Module):
    """GroupNorm whose statistics are taken over (C/G, H, W) of each frame separately."""

    def __init__(self, channels: int, groups: int, eps: float = 1e-5):
        super().__init__()
        self.groups, self.eps = groups, eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, silu: bool = False) -> torch.Tensor:
        b, c, t, h, w = x.shape
        xv = x.float().view(b, self.groups, c // self.groups, t, h, w)
        state = _TILE_NORM.get()
        if state is not None and state.stats is not None and state.index < len(state.stats):
            mean, var = state.stats[state.index]
            mean = mean.to(xv.dtype).view(b, self.groups, 1, t, 1, 1)
            var = var.to(xv.dtype).view(b, self.groups, 1, t, 1, 1)
        else:
            var, mean = torch.var_mean(xv, dim=(2, 4, 5), keepdim=True, correction=0)
        if state is not None:
            if state.collect:
                state.accumulate(state.index, xv)
            if state.stop_after is not None and state.index >= state.stop_after:
                raise _StopTile
            state.index += 1
        y = (xv - mean).mul_(torch.rsqrt(var + self.eps)).view(b, c, t, h, w)
        y = y.mul_(self.weight.float().view(1, c, 1, 1, 1)).add_(self.bias.float().view(1, c, 1, 1, 1))
        if _ROUND_NORM_BF16.get():
            y = y.to(torch.bfloat16).float()
        if silu:
            y = F.silu(y, inplace=True)
        return y.to(x.dtype)


# ------------------------------------------------------------------------------------------------
# Convolutions and blocks
# ------------------------------------------------------------------------------------------------


class CausalConv(nn.Module):
    """Conv3d that zero-pads time only at the front (k-1 frames), space symmetrically (k//2)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int | tuple = 1):
        super().__init__()
        stride = (stride, stride, stride) if isinstance(stride, int) else tuple(stride)
        self.time_pad = kernel - 1
        self.conv = nn.Conv3d(cin, cout, kernel, stride=stride, padding=(0, kernel // 2, kernel // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.time_pad:
            x = F.pad(x, (0, 0, 0, 0, self.time_pad, 0))
        return self.conv(x)


class ResnetBlock3D(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1 = GroupNormPerFrame(cin, groups)
        self.conv1 = CausalConv(cin, cout)
        self.norm2 = GroupNormPerFrame(cout, groups)
        self.conv2 = CausalConv(cout, cout)
        self.nin_shortcut = CausalConv(cin, cout, kernel=1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(self.norm1(x, silu=True))
        h = self.conv2(self.norm2(h, silu=True))
        return h + (self.nin_shortcut(x) if self.nin_shortcut is not None else x)


class AttnBlock(nn.Module):
    """Single-head attention over all (t h w) tokens, raster-causal (token i sees tokens <= i)."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = GroupNormPerFrame(channels, groups)
        self.q = CausalConv(channels, channels, kernel=1)
        self.k = CausalConv(channels, channels, kernel=1)
        self.v = CausalConv(channels, channels, kernel=1)
        self.proj_out = CausalConv(channels, channels, kernel=1)

    def forward(self, x):
        b, c, t, h, w = x.shape
        hn = self.norm(x)
        # Contiguous [B, 1, THW, C]: with a strided last dim SDPA falls back to the math kernel,
        # which materialises the THW x THW matrix (1 GiB at 1024x1024 on CPU).
        q, k, v = (m(hn).flatten(2).transpose(1, 2).unsqueeze(1).contiguous()
                   for m in (self.q, self.k, self.v))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [B, 1, THW, C]
        o = o.squeeze(1).transpose(1, 2).reshape(b, c, t, h, w)
        return x + self.proj_out(o)


class Downsample2D(nn.Module):
    """Per-frame Conv2d 3x3 stride 2 after padding right and bottom by one pixel."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x):
        # A (1, 3, 3) conv3d with the 2D kernel is the per-frame conv without a layout copy.
        x = F.pad(x, (0, 1, 0, 1))
        return F.conv3d(x, self.conv.weight.unsqueeze(2), self.conv.bias, stride=(1, 2, 2))


class Downsample3D(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = CausalConv(channels, channels, kernel=3, stride=2)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    """Per-frame nearest x2 then Conv2d 3x3 pad 1."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest")
        return F.conv3d(x, self.conv.weight.unsqueeze(2), self.conv.bias, padding=(0, 1, 1))


class Res3DBlockUpsample(nn.Module):
    """out = SiLU(GN2(conv2(SiLU(GN1(conv1 x)))) + x) + x: the residual is added twice."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.conv1 = CausalConv(channels, channels)
        self.norm1 = GroupNormPerFrame(channels, groups)
        self.conv2 = CausalConv(channels, channels)
        self.norm2 = GroupNormPerFrame(channels, groups)

    def forward(self, x):
        h = self.norm1(self.conv1(x), silu=True)
        h = self.norm2(self.conv2(h))
        return F.silu(h + x) + x


class Upsample3D(nn.Module):
    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.conv3d = Res3DBlockUpsample(channels, groups)

    def forward(self, x):
        return self.conv3d(F.interpolate(x, scale_factor=2, mode="nearest"))


def space_to_depth(x: torch.Tensor, f: int = 2) -> torch.Tensor:
    """Front-pad f-1 zero frames, then fold f x f x f blocks into channels c*f^3 + dt*f^2 + dh*f + dw."""
    x = F.pad(x, (0, 0, 0, 0, f - 1, 0))
    b, c, d, h, w = x.shape
    x = x.view(b, c, d // f, f, h // f, f, w // f, f).permute(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, c * f**3, d // f, h // f, w // f)


def depth_to_space(x: torch.Tensor, f: int = 2) -> torch.Tensor:
    """Inverse channel order of space_to_depth, then drop the first f-1 frames."""
    b, c, d, h, w = x.shape
    x = x.view(b, c // f**3, f, f, f, d, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, c // f**3, d * f, h * f, w * f)[:, :, f - 1:]


def channel_average(x: torch.Tensor, out_channels: int) -> torch.Tensor:
    b, c = x.shape[:2]
    return x.view(b, out_channels, c // out_channels, *x.shape[2:]).mean(dim=2)


def _run_level(level: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """A level's res blocks, then its resampler if it has one (`downsample` in the encoder,
    `upsample` in the decoder: the official state-dict names)."""
    for block in level.block:
        h = block(h)
    resample = getattr(level, "downsample", None) or getattr(level, "upsample", None)
    return resample(h) if resample is not None else h


class _Level(nn.Module):
    """One resolution level: `block` (res blocks) and an optional `downsample`/`upsample`."""


class _Mid(nn.Module):
    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.block_1 = ResnetBlock3D(channels, channels, groups)
        self.attn_1 = AttnBlock(channels, groups)
        self.block_2 = ResnetBlock3D(channels, channels, groups)

    def forward(self, x):
        return self.block_2(self.attn_1(self.block_1(x)))


class _ConvWrap(nn.Module):
    """Holds a CausalConv as `.conv` (official naming: conv_patchify.conv.conv.weight)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = CausalConv(cin, cout)


class VideoEncoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        g, ch = cfg.norm_groups, cfg.enc_ch
        self.z = cfg.z_channels
        self.conv_in = CausalConv(cfg.in_channels, ch)
        in_mult = (1,) + tuple(cfg.enc_ch_mult)
        self.down = nn.ModuleList()
        block_in = ch
        for i, mult in enumerate(cfg.enc_ch_mult):
            level = _Level()
            block_in, block_out = ch * in_mult[i], ch * mult
            level.block = nn.ModuleList()
            for _ in range(cfg.enc_num_res_blocks):
                level.block.append(ResnetBlock3D(block_in, block_out, g))
                block_in = block_out
            if i == 0:
                if cfg.spatial_compression == 16:
                    level.downsample = Downsample2D(block_in)
            elif i < len(cfg.enc_ch_mult) - 1:  # levels 1, 2 also halve time
                level.downsample = Downsample3D(block_in)
            self.down.append(level)
        self.mid = _Mid(block_in, g)
        self.norm_out = GroupNormPerFrame(block_in, g)
        self.width = block_in
        patch_channels = 32 * cfg.z_channels  # official: 4 * z * 2^3
        self.conv_patchify = _ConvWrap(block_in, patch_channels // 8)
        self.conv_out = CausalConv(patch_channels, 2 * cfg.z_channels)

    def stem(self, x):
        """conv_in, levels 0 and 1 (full and half resolution, ~90% of the activation memory):
        the part that tiling splits spatially. Output: 1/4 resolution."""
        h = self.conv_in(x)
        for level in self.down[:2]:
            h = _run_level(level, h)
        return h

    def tail(self, h):
        """Levels 2-3, the mid block (causal attention over all tokens) and the v2 patchify
        output; always run on the full frame."""
        for level in self.down[2:]:
            h = _run_level(level, h)
        h = self.mid(h)
        h = self.norm_out(h, silu=True)
        patch_channels = 32 * self.z
        shortcut = channel_average(space_to_depth(h), patch_channels)
        h = space_to_depth(self.conv_patchify.conv(h)) + shortcut
        return self.conv_out(h) + channel_average(h, 2 * self.z)

    def forward(self, x):
        return self.tail(self.stem(x))


class VideoDecoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        g, ch, z = cfg.norm_groups, cfg.dec_ch, cfg.z_channels
        self.z = z
        block_in = ch * cfg.dec_ch_mult[-1]
        patch_channels = 32 * z
        self.conv_in = CausalConv(z, patch_channels)
        self.conv_unpatchify = _ConvWrap(patch_channels, block_in * 8)
        self.width = block_in
        self.mid = _Mid(block_in, g)
        levels = []
        n = len(cfg.dec_ch_mult)
        for i in reversed(range(n)):
            level = _Level()
            block_out = ch * cfg.dec_ch_mult[i]
            level.block = nn.ModuleList()
            for _ in range(cfg.dec_num_res_blocks):
                level.block.append(ResnetBlock3D(block_in, block_out, g))
                block_in = block_out
            if i >= n - 2:  # the two lowest-resolution levels also double time
                level.upsample = Upsample3D(block_in, g)
            elif i > 0 and cfg.spatial_compression == 16:
                level.upsample = Upsample2D(block_in)
            levels.insert(0, level)
        self.up = nn.ModuleList(levels)
        self.norm_out = GroupNormPerFrame(block_in, g)
        self.conv_out = CausalConv(block_in, 3)

    def trunk(self, z):
        """Low-resolution part, up to the res blocks of level 2 (1/4 output resolution, half
        the frames): run on the full frame even when tiling, so the mid block's causal attention
        over all tokens is exact. Its activations are ~1/10 of the head's."""
        h = self.conv_in(z) + z.repeat_interleave(32, dim=1)
        repeats = self.width * 8 // h.shape[1]
        h = depth_to_space(self.conv_unpatchify.conv(h)) + depth_to_space(
            h.repeat_interleave(repeats, dim=1)
        )
        h = self.mid(h)
        h = _run_level(self.up[3], h)
        for block in self.up[2].block:
            h = block(h)
        return h

    def head(self, h):
        """Level 2's temporal upsample, levels 1 and 0 and the output conv (1/4 -> full
        resolution): the part that tiling splits spatially."""
        h = self.up[2].upsample(h)
        h = _run_level(self.up[1], h)
        h = _run_level(self.up[0], h)
        h = self.conv_out(self.norm_out(h, silu=True))
        return h[:, :, 3:]  # the causal warm-up frames

    def forward(self, z):
        return self.head(self.trunk(z))


# ------------------------------------------------------------------------------------------------
# Posterior and the full autoencoder
# ------------------------------------------------------------------------------------------------


class DiagonalGaussian:
    """Posterior over latents [B, F, z, h, w]; parameters split on the channel axis."""

    def __init__(self, parameters: torch.Tensor):
        self.parameters = parameters
        self.mean, logvar = parameters.chunk(2, dim=2)
        self.logvar = logvar.clamp(-30.0, 20.0)

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def mode(self) -> torch.Tensor:
        return self.mean

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device,
                          dtype=torch.float32).to(self.mean.dtype)
        return self.mean + self.std * eps


def _tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Start/end of tiles covering [0, length); the last tile is aligned to the end."""
    if tile >= length:
        return [(0, length)]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    return [(s, s + tile) for s in starts]


def _blend_1d(spans, length, band: float = 0.5):
    """Per tile: blending weights (summing to 1 across tiles) and its owned [a, b).

    In an overlap of n cells the two tiles are cross-faded linearly over a central band of
    round(band * n) cells; outside the band each tile keeps only the half nearer its centre. A
    band narrower than the overlap keeps every used value at least (1 - band) * n / 2 cells away
    from a tile edge, where zero padding would perturb it.
    """
    out = []
    for i, (s, e) in enumerate(spans):
        w = torch.ones(e - s, dtype=torch.float64)
        own0, own1 = 0, e - s
        for side in (-1, 1):
            j = i + side
            if not 0 <= j < len(spans):
                continue
            n = (spans[j][1] - s) if side < 0 else (e - spans[j][0])
            if n <= 0:
                continue
            bw = max(1, min(n, round(band * n)))
            lo = (n - bw) // 2  # cells of the overlap before the band starts
            ramp = (torch.arange(bw, dtype=torch.float64) + 0.5) / bw
            rise = torch.cat([torch.zeros(lo, dtype=torch.float64), ramp,
                              torch.ones(n - lo - bw, dtype=torch.float64)])
            if side < 0:
                w[:n] = torch.minimum(w[:n], rise)
                own0 = n // 2
            else:
                w[e - s - n:] = torch.minimum(w[e - s - n:], rise.flip(0))
                own1 = e - s - n + n // 2
        out.append((w, own0, own1))
    return out


def _run_tiled(fn, x: torch.Tensor, tile: int, overlap: int, unit: int, scale: int,
               stats_passes: int | None, band: float = 0.25) -> torch.Tensor:
    """Apply `fn` to overlapping spatial tiles of x [B, C, T, H, W] and blend the results.

    Tiling happens on a grid of cells of `unit` input pixels; `fn` maps a cell to `scale` output
    pixels. `tile`/`overlap` are in cells.

    GroupNorm statistics are per frame over the whole frame, so a tile cannot compute them alone:
    - stats_passes=None (exact): one full pass records every layer's statistics from the region
      each tile owns; then pass k re-runs the tiles only up to GroupNorm k, with layers < k
      normalised by already-exact full-frame statistics, to make layer k exact; then a final pass.
      Cost ~ (number of GroupNorms / 2 + 2) tile runs per tile; memory stays one tile.
    - stats_passes=p: p full passes, each reusing the statistics of the previous one (0 = tile-local
      statistics, the classic approximation). Cheaper, approximate.
    """
    gh, gw = x.shape[-2] // unit, x.shape[-1] // unit
    spans_h, spans_w = _tile_spans(gh, tile, overlap), _tile_spans(gw, tile, overlap)
    rows, cols = _blend_1d(spans_h, gh, band), _blend_1d(spans_w, gw, band)
    single = len(spans_h) == len(spans_w) == 1

    def run(state: _TileNormState | None, keep: bool):
        out = None
        token = _TILE_NORM.set(state)
        try:
            for (ys, ye), (wr, r0, r1) in zip(spans_h, rows):
                for (xs, xe), (wc, c0, c1) in zip(spans_w, cols):
                    if state is not None:
                        state.begin_tile((r0, r1, c0, c1), (ye - ys, xe - xs))
                    try:
                        y = fn(x[..., ys * unit:ye * unit, xs * unit:xe * unit])
                    except _StopTile:
                        continue
                    if not keep:
                        continue
                    if out is None:
                        out = y.new_zeros(*y.shape[:3], gh * scale, gw * scale)
                    weight = (wr.repeat_interleave(scale)[:, None]
                              * wc.repeat_interleave(scale)[None]).to(y.dtype)
                    out[..., ys * scale:ye * scale, xs * scale:xe * scale] += y * weight
        finally:
            _TILE_NORM.reset(token)
        return out

    if single:  # one tile is the whole frame: its own statistics are the frame's
        return run(None, keep=True)
    if stats_passes is None:
        first = _TileNormState(None, collect=True)
        run(first, keep=False)
        stats = first.finalize()
        for k in range(1, len(stats)):
            state = _TileNormState(stats[:k], collect=True, stop_after=k)
            run(state, keep=False)
            stats[k] = state.finalize()[0]
    else:
        stats = None
        for _ in range(stats_passes):
            state = _TileNormState(stats, collect=True)
            run(state, keep=False)
            stats = state.finalize()
    return run(_TileNormState(stats, collect=False), keep=True)


@dataclass
class TileSpec:
    size: int  # pixels, multiple of 16
    overlap: int  # pixels, multiple of 16
    stats_passes: int | None = None


class StepVideoVAE(nn.Module):
    """Video-VAE v2. encode: [B, T, 3, H, W] in [-1, 1] -> DiagonalGaussian over
    [B, F, z, H/16, W/16]; decode: latents -> [B, T, 3, H, W] (not clamped). No latent scaling."""

    def __init__(self, config: VAEConfig | None = None):
        super().__init__()
        cfg = config or VAEConfig()
        cfg.validate()
        self.config = cfg
        self.encoder = VideoEncoder(cfg)
        self.decoder = VideoDecoder(cfg)

    @property
    def dtype(self) -> torch.dtype:
        return self.decoder.conv_in.conv.weight.dtype

    # -- frame bookkeeping ------------------------------------------------------------------
    @staticmethod
    def latent_frames(frames: int) -> int:
        """17 -> 3 per full chunk; a trailing chunk of 1 or 9 frames gives 1 or 2 latents."""
        q, r = divmod(frames, 17)
        if r not in (0, 1, 9) or frames == 0:
            raise UserError(
                f"the Step-Video VAE cannot encode {frames} frames",
                hint="use 1 frame or a multiple of 17 frames (a trailing chunk of 1 or 9 frames "
                     "is also accepted)",
            )
        return 3 * q + {0: 0, 1: 1, 9: 2}[r]

    @staticmethod
    def video_frames(latents: int) -> int:
        q, r = divmod(latents, 3)
        return 17 * q + {0: 0, 1: 1, 2: 9}[r]

    def _tile(self, tile_size, tile_overlap, stats_passes):
        if tile_size is None:
            return None
        if tile_size % 16 or tile_overlap % 16 or not 0 <= tile_overlap < tile_size:
            raise UserError(
                f"VAE tile_size={tile_size}, tile_overlap={tile_overlap} must be multiples of 16 "
                "pixels with 0 <= overlap < size"
            )
        return TileSpec(tile_size, tile_overlap, stats_passes)

    # -- encode -----------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, video: torch.Tensor, tile_size: int | None = None, tile_overlap: int = 64,
               stats_passes: int | None = None) -> DiagonalGaussian:
        if video.dim() != 5 or video.shape[2] != self.config.in_channels:
            raise UserError(
                f"VAE encode expects video [B, T, 3, H, W], got shape {tuple(video.shape)}"
            )
        b, t, _, h, w = video.shape
        unit = self.config.spatial_compression
        if h % unit or w % unit:
            raise UserError(f"VAE encode needs H and W multiples of {unit}, got {h}x{w}")
        self.latent_frames(t)  # validates
        tile = self._tile(tile_size, tile_overlap, stats_passes)
        x = video.to(self.dtype).transpose(1, 2)  # [B, 3, T, H, W]
        outs = []
        for chunk in x.split(self.config.frames_per_chunk, dim=2):
            if tile is None:
                z = self.encoder(chunk)
            else:
                f = self._stem_factor
                stem = _run_tiled(self.encoder.stem, chunk, tile.size // f, tile.overlap // f,
                                  unit=f, scale=1, stats_passes=tile.stats_passes)
                z = self.encoder.tail(stem)  # mid attention over all tokens: never tiled
            outs.append(z)
        return DiagonalGaussian(torch.cat(outs, dim=2).transpose(1, 2))

    @property
    def _stem_factor(self) -> int:
        """Spatial downscale of the encoder stem / upscale of the decoder head (4 at 16x, 2 at 8x)."""
        return self.config.spatial_compression // 4

    # -- decode -----------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, latents: torch.Tensor, tile_size: int | None = None, tile_overlap: int = 64,
               stats_passes: int | None = None) -> torch.Tensor:
        z = self.config.z_channels
        if latents.dim() != 5 or latents.shape[2] != z:
            raise UserError(
                f"VAE decode expects latents [B, F, {z}, h, w], got shape {tuple(latents.shape)}",
                hint="the channel axis is 2; latents from the DiT are [B, F, C, h, w]",
            )
        tile = self._tile(tile_size, tile_overlap, stats_passes)
        x = latents.to(self.dtype).transpose(1, 2)  # [B, z, F, h, w]
        frames = []
        for chunk in x.split(self.config.latents_per_chunk, dim=2):
            if tile is None:
                frames.append(self.decoder(chunk))
            else:
                f = self._stem_factor
                trunk = self.decoder.trunk(chunk)  # 1/f output resolution
                frames.append(_run_tiled(self.decoder.head, trunk, tile.size // f,
                                         tile.overlap // f, unit=1, scale=f,
                                         stats_passes=tile.stats_passes))
        lengths = [f.shape[2] for f in frames]
        video = torch.cat(frames, dim=2).transpose(1, 2)  # [B, T, 3, H, W]
        return self._blend_seams(video, lengths)

    @staticmethod
    def _blend_seams(video: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        """Official seam mix at each chunk boundary: b <- 0.6 b + 0.4 a, then a <- 0.6 a + 0.4 b."""
        end = 0
        for n in lengths[:-1]:
            end += n
            a, b = end - 1, end
            video[:, b] = video[:, b] * 0.6 + video[:, a] * 0.4
            video[:, a] = video[:, a] * 0.6 + video[:, b] * 0.4
        return video
