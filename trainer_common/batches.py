"""How training batches are formed: length-grouped batches in shuffled order, and sequences packed into rows."""


def shuffled_length_grouped_indices(lengths: list[int], batch_size: int, generator) -> list[int]:
    """Training order: batches of similar lengths (little padding), the batches in random order.

    transformers' `get_length_grouped_indices` sorts random mega-batches of 50 batches by length, but yields each
    mega-batch from its longest batch to its shortest, so training sweeps 50 steps of long sentences down to 50
    steps of one-word headlines, over and over. The same batches in random order pad just as little. The batch with
    the longest example stays first, so that running out of memory happens at once; a last, partial batch stays
    last, so that batch boundaries do not move.
    """
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    indices = get_length_grouped_indices(lengths, batch_size, generator=generator)
    batches = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    first, rest = batches[:1], batches[1:]
    partial = rest.pop() if rest and len(rest[-1]) < batch_size else None
    order = torch.randperm(len(rest), generator=generator).tolist()
    batches = first + [rest[i] for i in order] + ([partial] if partial else [])
    return [i for batch in batches for i in batch]


class ShuffledLengthGroupedSampler:
    """A `Sampler` (any sized iterable serves the DataLoader) over `shuffled_length_grouped_indices`.

    An epoch's order depends only on `seed` and the epoch number (`set_epoch`, which the Trainer calls before each
    epoch), not on how many epochs this sampler has already drawn: a run resumed at epoch e then gets the batches
    an uninterrupted run got, and iterating an epoch again (to skip its trained batches) repeats its order.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths, self.batch_size, self.seed, self.epoch = lengths, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        import torch

        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(shuffled_length_grouped_indices(self.lengths, self.batch_size, generator))


def pack_rows(lengths: list[int]) -> list[list[int]]:
    """Group sequence indices into rows no longer than the longest sequence (first-fit decreasing)."""
    capacity = max(lengths, default=0)
    rows, room = [], []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        row = next((r for r, free in enumerate(room) if lengths[i] <= free), None)
        if row is None:
            rows.append([])
            room.append(capacity)
            row = len(rows) - 1
        rows[row].append(i)
        room[row] -= lengths[i]
    return rows


def packed_positions(rows: list[list[int]], lengths: list[int], width: int, pad_right: bool = True):
    """Position ids of rows `width` long that hold the sequences `rows` (of `pack_rows`) end to end: restarting at 0
    at every sequence, and on the row's padding too (one more sequence, of padding). Also each sequence's first
    token as `(row, column)`, by sequence index. `pad_right`: the padding's side."""
    position_ids, starts = [], [None] * len(lengths)
    for r, row in enumerate(rows):
        used = sum(lengths[i] for i in row)
        column = 0 if pad_right else width - used
        positions = []
        for i in row:
            starts[i] = (r, column + len(positions))
            positions.extend(range(lengths[i]))
        padding = list(range(width - used))
        position_ids.append(positions + padding if pad_right else padding + positions)
    return position_ids, starts
