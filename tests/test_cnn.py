"""The CNN backbone keeps the copies contract of MLPBackbone: T independent models in one call."""

import pytest
import torch

from bench.models import CNNBackbone
from bench.regimes.joint import init_backbone
from bench.regimes.population import Member


def test_batched_copies_equal_each_copy_alone():
    torch.manual_seed(0)
    model = CNNBackbone((1, 8, 8), copies=3, channels=(4, 8), width=12)
    x = torch.randn(3, 5, 1, 8, 8)
    out = model(x)
    assert out.shape == (3, 5, 12) and model.width == 12 and model.copies == 3
    for c in range(3):
        torch.testing.assert_close(model(x[c:c + 1], torch.tensor([c]))[0], out[c])


def test_a_copys_gradient_depends_only_on_its_own_inputs():
    torch.manual_seed(0)
    model = CNNBackbone((1, 8, 8), copies=3, channels=(4, 8), width=12)
    x = torch.randn(3, 5, 1, 8, 8, requires_grad=True)
    model(x)[1].square().sum().backward()
    for name, param in model.named_parameters():
        assert param.shape[0] == 3, name  # copies lead every parameter
        assert param.grad[[0, 2]].abs().max() == 0, name
        assert param.grad[1].abs().max() > 0, name
    assert x.grad[[0, 2]].abs().max() == 0 and x.grad[1].abs().max() > 0

    changed = x.detach().clone()
    changed[0] += 1.0
    changed[2] = 0.0
    torch.testing.assert_close(model(changed)[1], model(x.detach())[1])


def test_copies_start_from_one_draw():
    members = [Member(0, 1e-3, 0.0), Member(1, 1e-3, 0.0)]
    model = init_backbone(lambda **kw: CNNBackbone(channels=(4,), width=8, **kw), (1, 8, 8), members, 2)
    for param in model.parameters():
        torch.testing.assert_close(param[0], param[1])  # a member's copies start from its one draw
        torch.testing.assert_close(param[2], param[3])
        assert not torch.equal(param[0], param[2])  # members draw from their own seeds


@pytest.mark.parametrize("shape", [(64,), (8, 8)])
def test_non_image_inputs_are_refused_with_the_way_out(shape):
    with pytest.raises(ValueError, match=r"needs image inputs .* use model=mlp"):
        CNNBackbone(shape)


def test_too_many_pooling_stages_are_refused():
    with pytest.raises(ValueError, match="shrink input shape"):
        CNNBackbone((1, 8, 8), channels=(4, 4, 4, 4))
