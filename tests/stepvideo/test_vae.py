"""Video-VAE behaviour on the tiny preset: chunking, causality, posterior, seams, tiling, errors."""

import pytest
import torch

from generators.stepvideo.config import get_preset
from generators.stepvideo.vae import StepVideoVAE, depth_to_space, space_to_depth
from stepeval.errors import UserError


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return StepVideoVAE(get_preset("tiny").vae).eval()


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("frames,latents", [(1, 1), (17, 3), (34, 6)])
def test_frame_counts_round_trip(vae, frames, latents):
    video = torch.rand(1, frames, 3, 32, 48) * 2 - 1
    post = vae.encode(video)
    assert post.mean.shape == (1, latents, 4, 2, 3)
    assert post.logvar.shape == post.mean.shape
    out = vae.decode(post.mean)
    assert out.shape == video.shape
    assert vae.latent_frames(frames) == latents and vae.video_frames(latents) == frames


def test_first_latent_depends_only_on_first_frame(vae):
    video = torch.rand(1, 17, 3, 32, 32) * 2 - 1
    z = vae.encode(video).mean
    perturbed = video.clone()
    perturbed[:, 1:] = torch.rand_like(perturbed[:, 1:])
    z2 = vae.encode(perturbed).mean
    assert torch.equal(z[:, 0], z2[:, 0])
    assert not torch.allclose(z[:, 1:], z2[:, 1:], atol=1e-4)
    # Encoding the single image gives exactly that first-frame latent.
    torch.testing.assert_close(vae.encode(video[:, :1]).mean[:, 0], z[:, 0], rtol=1e-5, atol=1e-6)
    # Chunks are independent: the second chunk's first latent only sees frame 17.
    two = torch.cat([video, perturbed], dim=1)
    torch.testing.assert_close(vae.encode(two).mean[:, 3], z2[:, 0], rtol=1e-5, atol=1e-6)


def test_decoded_first_frame_depends_only_on_first_latent(vae):
    z = torch.randn(1, 3, 4, 2, 2)
    z2 = z.clone()
    z2[:, 1:] += 1.0
    a, b = vae.decode(z), vae.decode(z2)
    assert torch.equal(a[:, 0], b[:, 0])
    assert not torch.allclose(a[:, 1:], b[:, 1:], atol=1e-4)


def test_posterior_split_clamp_and_seeded_sample(vae):
    post = vae.encode(torch.rand(2, 1, 3, 32, 32))
    params = post.parameters
    torch.testing.assert_close(post.mean, params[:, :, :4])
    torch.testing.assert_close(post.logvar, params[:, :, 4:].clamp(-30, 20))
    s1 = post.sample(torch.Generator().manual_seed(7))
    s2 = post.sample(torch.Generator().manual_seed(7))
    s3 = post.sample(torch.Generator().manual_seed(8))
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)
    eps = torch.randn(post.mean.shape, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(s1, post.mean + torch.exp(0.5 * post.logvar) * eps)


def test_seam_blending_follows_official_order():
    video = torch.arange(34, dtype=torch.float32).view(1, 34, 1, 1, 1).repeat(1, 1, 3, 1, 1)
    out = StepVideoVAE._blend_seams(video.clone(), [17, 17])
    a, b = 16.0, 17.0
    b_new = 0.6 * b + 0.4 * a
    a_new = 0.6 * a + 0.4 * b_new
    assert out[0, 17, 0, 0, 0].item() == pytest.approx(b_new)
    assert out[0, 16, 0, 0, 0].item() == pytest.approx(a_new)
    assert torch.equal(out[:, :16], video[:, :16]) and torch.equal(out[:, 18:], video[:, 18:])


def test_space_to_depth_channel_order_and_inverse():
    x = torch.randn(1, 2, 3, 4, 4)
    s = space_to_depth(x)  # front-pads one zero frame: T 3 -> 4 -> 2
    assert s.shape == (1, 16, 2, 2, 2)
    # channel c*8 + dt*4 + dh*2 + dw holds x[c, 2t+dt-1, 2i+dh, 2j+dw]
    assert s[0, 1 * 8 + 1 * 4 + 0 * 2 + 1, 1, 1, 0] == x[0, 1, 2, 2, 1]
    assert torch.all(s[0, 0:4, 0] == 0)  # dt=0 of the first output frame is the zero pad
    torch.testing.assert_close(depth_to_space(s), x)


def test_tiled_decode_matches_untiled(vae):
    # 32 x 128 pixels; 96-px tiles with 64-px overlap -> 2 tiles. The tiled head's receptive
    # field on the tiny preset is ~20 px and the blend keeps values >= 24 px from tile edges, so
    # with exact full-frame GroupNorm statistics the only differences are float rounding
    # (measured ~4e-9 relative).
    z = torch.randn(1, 1, 4, 2, 8, generator=torch.Generator().manual_seed(1))
    ref = vae.decode(z)
    tiled = vae.decode(z, tile_size=96, tile_overlap=64)
    assert rel(tiled, ref) < 1e-3
    # Tile-local statistics (the classic shortcut) are measurably worse: tiling really happened.
    local = vae.decode(z, tile_size=96, tile_overlap=64, stats_passes=0)
    assert rel(local, ref) > 10 * max(rel(tiled, ref), 1e-6)


def test_tiled_encode_matches_untiled(vae):
    video = torch.rand(1, 1, 3, 32, 128, generator=torch.Generator().manual_seed(2)) * 2 - 1
    ref = vae.encode(video).mean
    tiled = vae.encode(video, tile_size=96, tile_overlap=64).mean
    assert rel(tiled, ref) < 1e-3


def test_bad_inputs(vae):
    with pytest.raises(UserError, match="5 frames"):
        vae.encode(torch.rand(1, 5, 3, 32, 32))
    with pytest.raises(UserError, match="multiples of 16"):
        vae.encode(torch.rand(1, 1, 3, 30, 32))
    with pytest.raises(UserError, match=r"\[B, F, 4, h, w\]"):
        vae.decode(torch.randn(1, 3, 16, 2, 2))
    with pytest.raises(UserError, match="tile_size"):
        vae.decode(torch.randn(1, 1, 4, 2, 2), tile_size=100)


def test_eight_x_variant_keeps_the_structure_with_one_spatial_level_fewer():
    """spatial_compression=8 (the tiny trained preset): level 0 keeps full resolution; every other
    module and key is the official one, so the checkpoint code needs no special case."""
    import dataclasses

    torch.manual_seed(0)
    base = get_preset("tiny").vae
    official, small = StepVideoVAE(base).eval(), StepVideoVAE(dataclasses.replace(base, spatial_compression=8)).eval()
    only_official = set(official.state_dict()) - set(small.state_dict())
    assert only_official and all(k.startswith(("encoder.down.0.downsample", "decoder.up.1.upsample")) for k in only_official)
    assert not set(small.state_dict()) - set(official.state_dict())
    video = torch.rand(1, 17, 3, 32, 96, generator=torch.Generator().manual_seed(3)) * 2 - 1
    z = small.encode(video).mean
    assert z.shape == (1, 3, base.z_channels, 4, 12)
    assert small.decode(z).shape == video.shape
    assert rel(small.encode(video, tile_size=64, tile_overlap=48).mean, z) < 1e-3
    assert rel(small.decode(z, tile_size=64, tile_overlap=48), small.decode(z)) < 1e-3
    with pytest.raises(UserError, match="multiples of 8"):
        small.encode(torch.rand(1, 1, 3, 30, 32))
    with pytest.raises(UserError, match="16 \\(official\\) or 8"):
        StepVideoVAE(dataclasses.replace(base, spatial_compression=4))
