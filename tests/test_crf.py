"""`LinearChainCRF` against brute force over every tag path, against pytorch-crf, and under constraints."""

import itertools

import pytest
import torch

from ner_trainer.crf import NEG_INF, LinearChainCRF

LENGTHS = (5, 0, 1, 3, 2)  # ragged, with an empty row and a one-step row


def prefix_mask(lengths, length=None) -> torch.Tensor:
    length = max(lengths, default=0) if length is None else length
    return torch.arange(length)[None, :] < torch.tensor(lengths, dtype=torch.long)[:, None]


def random_crf(num_tags, seed, constrained=False) -> tuple[LinearChainCRF, dict | None]:
    """A CRF with random scores; with `constrained`, random constraints that still allow the all-zeros path."""
    generator = torch.Generator().manual_seed(seed)
    constraints = None
    if constrained:
        start = torch.rand(num_tags, generator=generator) < 0.5
        allowed = torch.rand(num_tags, num_tags, generator=generator) < 0.5
        end = torch.rand(num_tags, generator=generator) < 0.5
        start[0] = end[0] = allowed[0, 0] = True
        constraints = {"allowed_start": start, "allowed_transitions": allowed, "allowed_end": end}
    crf = LinearChainCRF(num_tags, **(constraints or {}))
    with torch.no_grad():
        for param in crf.parameters():
            param.copy_(torch.randn(param.shape, generator=generator))
    return crf, constraints


def random_batch(lengths, num_tags, seed, length=None):
    generator = torch.Generator().manual_seed(seed)
    mask = prefix_mask(lengths, length)
    emissions = torch.randn(*mask.shape, num_tags, generator=generator) * 2
    tags = torch.randint(0, num_tags, mask.shape, generator=generator).masked_fill(~mask, -100)
    return emissions, tags, mask


def path_scores(crf: LinearChainCRF, constraints, emissions_row, length) -> dict[tuple, float]:
    """Score of every tag path of `length` steps, in float64, with penalties built here from the constraints."""
    params = (crf.start_transitions, crf.transitions, crf.end_transitions)
    start, transitions, end = (param.detach().double() for param in params)
    if constraints is not None:
        start = start + torch.where(constraints["allowed_start"], 0.0, NEG_INF).double()
        transitions = transitions + torch.where(constraints["allowed_transitions"], 0.0, NEG_INF).double()
        end = end + torch.where(constraints["allowed_end"], 0.0, NEG_INF).double()
    emissions_row = emissions_row.double()
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        if not path:
            scores[path] = 0.0
            continue
        total = start[path[0]] + end[path[-1]] + sum(emissions_row[t, tag] for t, tag in enumerate(path))
        total += sum(transitions[a, b] for a, b in zip(path, path[1:]))
        scores[path] = float(total)
    return scores


CASES = [(num_tags, constrained, seed) for num_tags in (3, 4) for constrained in (False, True) for seed in (0, 1)]


@pytest.mark.parametrize("num_tags,constrained,seed", CASES)
def test_log_partition_score_and_likelihood_match_brute_force(num_tags, constrained, seed):
    crf, constraints = random_crf(num_tags, seed, constrained)
    emissions, tags, mask = random_batch(LENGTHS, num_tags, seed + 100)
    log_z, score = crf.log_partition(emissions, mask), crf.score(emissions, tags, mask)
    for row, length in enumerate(LENGTHS):
        scores = path_scores(crf, constraints, emissions[row], length)
        expected = torch.logsumexp(torch.tensor(list(scores.values()), dtype=torch.float64), 0).item()
        assert log_z[row].item() == pytest.approx(expected if length else 0.0, abs=1e-4, rel=1e-5)
        gold = tuple(tags[row, :length].tolist())
        assert score[row].item() == pytest.approx(scores[gold], abs=1e-4, rel=1e-5)
    assert torch.allclose(crf.log_likelihood(emissions, tags, mask), score - log_z)
    assert log_z.dtype == score.dtype == torch.float32


def test_nll_reductions_agree():
    crf, _ = random_crf(4, 3)
    emissions, tags, mask = random_batch(LENGTHS, 4, 4)
    per_row = crf(emissions, tags, mask, reduction="none")
    assert per_row.shape == (len(LENGTHS),)
    assert torch.allclose(per_row, -crf.log_likelihood(emissions, tags, mask))
    assert per_row[1].item() == 0.0  # the empty row
    assert (per_row[mask.any(1)] > 0).all()
    assert torch.allclose(crf(emissions, tags, mask), per_row.sum())
    assert torch.allclose(crf(emissions, tags, mask, reduction="mean"), per_row.mean())
    with pytest.raises(ValueError, match="reduction"):
        crf(emissions, tags, mask, reduction="token_mean")


@pytest.mark.parametrize("num_tags,constrained,seed", CASES)
def test_viterbi_and_max_marginals_match_brute_force(num_tags, constrained, seed):
    crf, constraints = random_crf(num_tags, seed, constrained)
    emissions, _, mask = random_batch(LENGTHS, num_tags, seed + 200)
    tags, best = crf.viterbi_decode(emissions, mask, pad_tag=-7)
    marginals = crf.max_marginals(emissions, mask)
    assert tags.dtype == torch.long and tags.shape == mask.shape and marginals.shape == emissions.shape
    assert (tags[~mask] == -7).all() and (marginals[~mask] == 0).all()
    for row, length in enumerate(LENGTHS):
        scores = path_scores(crf, constraints, emissions[row], length)
        best_path = max(scores, key=scores.get)
        assert tags[row, :length].tolist() == list(best_path)
        assert best[row].item() == pytest.approx(scores[best_path], abs=1e-4, rel=1e-5)
        for t in range(length):
            through = [max(s for path, s in scores.items() if path[t] == y) for y in range(num_tags)]
            assert marginals[row, t].tolist() == pytest.approx(through, abs=1e-3, rel=1e-5)
            assert marginals[row, t].argmax().item() == tags[row, t].item()
            assert marginals[row, t].max().item() == pytest.approx(best[row].item(), abs=1e-4, rel=1e-5)


def test_empty_batches_and_all_masked_rows():
    crf, _ = random_crf(3, 5)
    for shape in ((2, 0, 3), (0, 4, 3), (3, 4, 3)):
        emissions, mask = torch.randn(shape), torch.zeros(shape[:2], dtype=torch.bool)
        tags = torch.full(shape[:2], -100)
        log_z = crf.log_partition(emissions, mask)
        assert log_z.shape == (shape[0],) and (log_z == 0).all()
        assert (crf(emissions, tags, mask, reduction="none") == 0).all()
        decoded, best = crf.viterbi_decode(emissions, mask)
        assert decoded.shape == shape[:2] and (decoded == -100).all() and (best == 0).all()
        assert (crf.max_marginals(emissions, mask) == 0).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_other_emission_dtypes_compute_in_float32(dtype):
    crf, _ = random_crf(4, 6)
    emissions, tags, mask = random_batch(LENGTHS, 4, 7)
    expected, emissions = crf(emissions.to(dtype).float(), tags, mask, reduction="none"), emissions.to(dtype)
    nll, best = crf(emissions, tags, mask, reduction="none"), crf.viterbi_decode(emissions, mask)[1]
    assert nll.dtype == best.dtype == crf.max_marginals(emissions, mask).dtype == torch.float32
    assert torch.allclose(nll, expected)


@pytest.mark.parametrize("seed", range(3))
def test_matches_pytorch_crf(seed):
    torchcrf = pytest.importorskip("torchcrf")
    num_tags, lengths = 5, (7, 1, 4, 7, 2, 6)  # every first step unmasked: pytorch-crf requires it
    crf, _ = random_crf(num_tags, seed)
    reference = torchcrf.CRF(num_tags, batch_first=True)
    reference.load_state_dict(crf.state_dict())  # same names, same meaning
    emissions, tags, mask = random_batch(lengths, num_tags, seed + 300)
    expected = reference(emissions, tags.clamp(min=0), mask, reduction="none")
    assert torch.allclose(crf.log_likelihood(emissions, tags, mask), expected, atol=1e-4)
    decoded, _ = crf.viterbi_decode(emissions, mask)
    assert [row[row != -100].tolist() for row in decoded] == reference.decode(emissions, mask)


BIO = ["O", "B-X", "I-X", "B-Y", "I-Y"]


def bio_constraints() -> dict:
    def allowed(previous, tag):
        return not tag.startswith("I-") or previous in ("B-" + tag[2:], tag)

    return {
        "allowed_start": [allowed("O", tag) for tag in BIO],
        "allowed_transitions": [[allowed(previous, tag) for tag in BIO] for previous in BIO],
        "allowed_end": [True] * len(BIO),
    }


def violations(tags: torch.Tensor, mask: torch.Tensor, constraints: dict) -> int:
    start, allowed = torch.tensor(constraints["allowed_start"]), torch.tensor(constraints["allowed_transitions"])
    end = torch.tensor(constraints["allowed_end"])
    tags, lengths = tags.clamp(min=0), mask.sum(1)
    nonempty = lengths > 0
    bad_start = (~start[tags[:, 0]] & nonempty).sum()
    bad_end = (~end[tags.gather(1, (lengths - 1).clamp(min=0)[:, None]).squeeze(1)] & nonempty).sum()
    bad_moves = (~allowed[tags[:, :-1], tags[:, 1:]] & mask[:, 1:]).sum()
    return int(bad_start + bad_end + bad_moves)


def test_constrained_decoding_never_breaks_the_constraints():
    constraints = bio_constraints()
    constrained, free = LinearChainCRF(len(BIO), **constraints), LinearChainCRF(len(BIO))
    generator = torch.Generator().manual_seed(8)
    free_violations = 0
    for batch in range(30):
        with torch.no_grad():  # scores that favour I-X anywhere, so unconstrained decoding breaks the rules
            for param in constrained.parameters():
                param.copy_(torch.randn(param.shape, generator=generator) * 2)
            constrained.transitions[:, 2] += 2.0
            constrained.start_transitions[2] += 2.0
        free.load_state_dict(constrained.state_dict())
        lengths = torch.randint(0, 9, (32,), generator=generator).tolist()
        emissions, _, mask = random_batch(lengths, len(BIO), batch, length=8)
        tags, best = constrained.viterbi_decode(emissions, mask)
        assert violations(tags, mask, constraints) == 0
        assert (best > NEG_INF / 2).all()  # an allowed path always exists here, and it wins
        assert (constrained.max_marginals(emissions, mask).argmax(-1)[mask] == tags[mask]).all()
        free_violations += violations(free.viterbi_decode(emissions, mask)[0], mask, constraints)
    assert free_violations > 0


def test_constraints_are_buffers_outside_the_checkpoint():
    constraints = bio_constraints()
    crf = LinearChainCRF(len(BIO), **constraints)
    buffers, params = dict(crf.named_buffers()), dict(crf.named_parameters())
    assert set(buffers) == {"start_penalty", "transition_penalty", "end_penalty"}
    assert set(params) == set(crf.state_dict()) == {"start_transitions", "end_transitions", "transitions"}
    assert buffers["transition_penalty"][0, 2].item() == NEG_INF and buffers["transition_penalty"][1, 2].item() == 0
    assert buffers["start_penalty"].tolist() == [0.0, 0.0, NEG_INF, 0.0, NEG_INF]
    assert all(param.eq(0).all() for param in params.values())  # reset_parameters: zeros
    free = LinearChainCRF(len(BIO))
    assert all(buffer.eq(0).all() for buffer in free.buffers())
    free.set_constraints(**constraints)
    assert torch.equal(free.transition_penalty, crf.transition_penalty)
    crf.set_constraints(None, None, None)
    assert all(buffer.eq(0).all() for buffer in crf.buffers())
    assert set(dict(crf.named_buffers())) == set(buffers) and set(crf.state_dict()) == set(params)
    with pytest.raises(ValueError, match="transition_penalty"):
        crf.set_constraints(allowed_transitions=[[True] * 5] * 4)


def test_gradients_are_finite_with_an_all_masked_row():
    crf, _ = random_crf(5, 9)
    crf.set_constraints(**bio_constraints())
    emissions, tags, mask = random_batch(LENGTHS, 5, 10)
    tags[0, 1:3] = torch.tensor([0, 2])  # a gold path through a forbidden transition: large loss, still finite
    emissions.requires_grad_(True)
    loss = crf(emissions, tags, mask)
    loss.backward()
    assert torch.isfinite(loss) and loss > -NEG_INF / 2
    for grad in (emissions.grad, crf.start_transitions.grad, crf.end_transitions.grad, crf.transitions.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert (emissions.grad[~mask] == 0).all()  # the empty row and the padding get no gradient


def test_batch_loss_and_decoding_equal_each_row_alone():
    crf, _ = random_crf(4, 11, constrained=True)
    emissions, tags, mask = random_batch(LENGTHS, 4, 12)
    alone = [crf(emissions[i : i + 1, :n], tags[i : i + 1, :n], mask[i : i + 1, :n]) for i, n in enumerate(LENGTHS)]
    assert torch.allclose(crf(emissions, tags, mask), torch.stack(alone).sum(), atol=1e-4)
    decoded, best = crf.viterbi_decode(emissions, mask)
    marginals = crf.max_marginals(emissions, mask)
    for i, n in enumerate(LENGTHS):
        row_tags, row_best = crf.viterbi_decode(emissions[i : i + 1, :n], mask[i : i + 1, :n])
        assert torch.equal(row_tags[0], decoded[i, :n]) and torch.allclose(row_best[0], best[i])
        assert torch.allclose(crf.max_marginals(emissions[i : i + 1, :n], mask[i : i + 1, :n])[0], marginals[i, :n])


def test_training_learns_transitions_the_emissions_cannot_show():
    """Only the first step's emission says anything; the rest of the gold path (a cycle 0 -> 1 -> 2 -> 0) can
    only come from the learnt transitions."""
    torch.manual_seed(13)
    num_tags, lengths = 3, (6, 4, 5, 0, 1)
    mask = prefix_mask(lengths)
    first = torch.tensor([0, 1, 2, 0, 1])
    gold = ((first[:, None] + torch.arange(mask.size(1))) % num_tags).masked_fill(~mask, -100)
    emissions = torch.zeros(*mask.shape, num_tags)
    emissions[torch.arange(len(lengths)), 0, first] = 3.0
    crf = LinearChainCRF(num_tags)
    assert not torch.equal(crf.viterbi_decode(emissions, mask)[0], gold)
    optimizer = torch.optim.Adam(crf.parameters(), lr=0.1)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = crf(emissions, gold, mask, reduction="mean")
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    assert torch.equal(crf.viterbi_decode(emissions, mask)[0], gold)
