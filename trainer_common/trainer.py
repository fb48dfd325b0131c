"""A `Trainer` that logs the parts of a composite loss beside the total.

A model whose output carries, say, `recon_loss` and `kl_loss` next to `loss` gets `recon_loss`/`kl_loss` in the
training logs and `eval_recon_loss`/`eval_kl_loss` in the evaluation metrics, averaged over all processes, so they
reach the console, `trainer_state.json` and every `report_to` integration like any other metric.
"""

import contextlib
import logging
import os
import shutil

import torch
from transformers import Trainer

from .errors import InputError
from .hub_push import (
    check_hub_strategy,
    checked_repo,
    hf_api,
    linked_copy,
    push_output_dir,
    upload,
    upload_and_remove,
    uploaded_files,
    without_secrets,
)
from .io import give_default_modes

logger = logging.getLogger(__name__)

STAGING = ".staging"  # where a checkpoint is written before it is renamed into place


class MultiLossTrainer(Trainer):
    """`Trainer` that averages and logs the named loss components found in the model outputs.

    Args:
        loss_components: output keys to log, e.g. `("recon_loss", "kl_loss")`.
        *args, **kwargs: passed on to `Trainer`.
    """

    def __init__(self, *args, loss_components: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        check_hub_strategy(self.args)
        self.loss_components = tuple(loss_components)
        # Running sums stay on the device; one sync per log, not per step.
        self._component_sums = {"train": None, "eval": None}
        self._component_counts = {"train": 0, "eval": 0}
        self._first_nonfinite_step = None  # on the device: checked at each log, not synced every step
        self._padding_only = False  # an evaluation batch of repeated rows only: its components count zero

    def _note_divergence(self, loss: torch.Tensor) -> None:
        """Remember the first step whose loss is nan or inf (the Trainer's logs would average it away)."""
        step = torch.tensor(self.state.global_step + 1, device=loss.device)
        bad = ~torch.isfinite(loss.detach()).all()
        first = self._first_nonfinite_step
        if first is None:
            first = torch.zeros((), dtype=torch.long, device=loss.device)
        self._first_nonfinite_step = torch.where((first == 0) & bad, step, first)

    def check_divergence(self) -> None:
        """Stop with the step number once a training loss was nan or inf."""
        if self._first_nonfinite_step is None:
            return
        step = int(self.accelerator.reduce(self._first_nonfinite_step.clone(), reduction="max"))
        if step > 0:
            raise InputError(
                f"training diverged: the loss became nan or inf at step {step} "
                f"(learning rate {self.args.learning_rate}; try a lower one, or gradient clipping)"
            )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if model.training:
            self._note_divergence(loss)
        if self.loss_components:
            split = "train" if model.training else "eval"
            # Weight by batch size so the eval average is per example, as Trainer's own eval_loss is. A batch of
            # padding only counts nothing, but adds to the sums: every process then has sums to reduce.
            weight = 1 if split == "train" else 0 if self._padding_only else _batch_size(inputs)
            values = torch.stack([outputs[name].detach().float() for name in self.loss_components])
            values = values * weight if weight else torch.zeros_like(values)
            sums = self._component_sums[split]
            self._component_sums[split] = values if sums is None else sums + values
            self._component_counts[split] += weight
        return (loss, outputs) if return_outputs else loss

    def _pop_components(self, split: str, prefix: str) -> dict[str, float]:
        """Average the sums since the last call over all processes and reset them."""
        sums, count = self._component_sums[split], self._component_counts[split]
        if sums is None:
            return {}
        totals = torch.cat([sums, sums.new_tensor([count])])
        totals = self.accelerator.reduce(totals, reduction="sum")
        self._component_sums[split], self._component_counts[split] = None, 0
        means = (totals[:-1] / totals[-1]).tolist()
        return {f"{prefix}{name}": round(value, 4) for name, value in zip(self.loss_components, means)}

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log line
            self.check_divergence()
            logs.update(self._pop_components("train", prefix=""))
        super().log(logs, start_time)

    def _save_checkpoint(self, model, trial) -> None:
        """Write `checkpoint-N` under `.staging/` and rename it into place once every process has written its part,
        so that a checkpoint is visible only when complete (a kill mid-save leaves only the staging folder)."""
        from transformers.trainer import TRAINER_STATE_NAME
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

        run_dir = self._get_output_dir(trial=trial)
        staging = os.path.join(run_dir, STAGING)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        self._get_output_dir = lambda trial=None: staging  # the Trainer writes the checkpoint wherever this says
        try:
            super()._save_checkpoint(model, trial)
        finally:
            del self._get_output_dir
        if self.state.best_model_checkpoint:
            # the Trainer recorded the staging path: every process must load the best model from the real one at
            # the end, and the checkpoint's own copy of the state is what a resumed run reads
            self.state.best_model_checkpoint = self.state.best_model_checkpoint.replace(staging, run_dir)
            if self.args.should_save:
                self.state.save_to_json(os.path.join(staging, name, TRAINER_STATE_NAME))
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            final = os.path.join(run_dir, name)
            if os.path.isdir(final):  # the same step saved twice
                shutil.rmtree(final)
            os.replace(os.path.join(staging, name), final)
            with contextlib.suppress(OSError):  # left only if another checkpoint is still being written there
                os.rmdir(staging)
            rotate_checkpoints(
                output_dir=run_dir,
                save_total_limit=self.args.save_total_limit,
                best_model_checkpoint=self.state.best_model_checkpoint,
                use_mtime=False,
            )
        self.accelerator.wait_for_everyone()

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        # never push from here (Trainer would, with its generic card and no upload filter): the run pushes at its
        # end, with the model card (`hub_push.push_output_dir`)
        args = self.args
        # every training_args.bin the Trainer writes (`_save`, in output_dir and each checkpoint; a TPU save) is
        # pickled from `self.args` during this call: it holds no token
        self.args = without_secrets(args)
        try:
            super().save_model(output_dir, _internal_call=True)
        finally:
            self.args = args
        if self.args.should_save:
            give_default_modes(output_dir or self.args.output_dir)

    def init_hf_repo(self, token: str | None = None, private: bool | None = None) -> None:
        checked_repo(self, token, private)

    def push_to_hub(self, commit_message: str | None = "End of training", blocking: bool = True):
        """Save the model and upload `output_dir` as the run's final push does (`hub_push.push_output_dir`): the
        toolkit's card, never the Trainer's generic one, and nothing of `hub_push.UPLOAD_IGNORE`."""
        self.callback_handler.on_push_begin(self.args, self.state, self.control)
        if self.hub_model_id is None:
            self.init_hf_repo()
        self.save_model()
        if not self.is_world_process_zero():
            return None
        if blocking:
            return push_output_dir(self, commit_message)
        self._finish_current_push()
        return hf_api().run_as_future(upload, self.hub_model_id, self.args.output_dir, commit_message, self.args)

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        """`--hub_strategy every_save`: upload the model of the checkpoint just saved in the background, as the
        Trainer does (skipped while the previous push is still uploading, unless `--hub_always_push`), but only
        the model: its weights, config, code and tokenizer, through `hub_push.upload`. The files are hard links
        made now, since the checkpoint folder is renamed (and later rotated away) while they upload."""
        from transformers.trainer import TRAINER_STATE_NAME
        from transformers.trainer_utils import HubStrategy, SaveStrategy
        from transformers.utils.hub import PushInProgress

        if not self.is_world_process_zero() or self.args.hub_strategy == HubStrategy.END:
            return
        if not self.args.hub_always_push and self.push_in_progress is not None and not self.push_in_progress.is_done():
            return
        self.callback_handler.on_push_begin(self.args, self.state, self.control)
        step = self.state.global_step
        # the Trainer's state is not the model (and is written again once this returns, with the checkpoint's path)
        files = [name for name in uploaded_files(checkpoint_folder) if name != TRAINER_STATE_NAME]
        snapshot = linked_copy(checkpoint_folder, files, os.path.join(self.args.output_dir, STAGING), f"hub-{step}-")
        if self.args.save_strategy == SaveStrategy.STEPS:
            message = f"Training in progress, step {step}"
        else:
            message = f"Training in progress, epoch {int(self.state.epoch)}"
        # the arguments as they are now: `save_model` swaps `self.args` while this uploads
        job = hf_api().run_as_future(upload_and_remove, self.hub_model_id, snapshot, message, self.args)
        if self.push_in_progress is None or self.push_in_progress.is_done():
            self.push_in_progress = PushInProgress([job])
        else:
            self.push_in_progress.jobs.append(job)

    def _finish_current_push(self) -> None:
        super()._finish_current_push()
        if self.args.push_to_hub and self.args.should_save:  # the pushes' snapshots kept it while they uploaded
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(self.args.output_dir, STAGING))

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        if resume_from_checkpoint and self.is_world_process_zero():  # which one `--resume_from_checkpoint true` took
            logger.info("resuming from %s", resume_from_checkpoint)
        output = super().train(resume_from_checkpoint, *args, **kwargs)
        self.check_divergence()  # steps after the last log
        return output

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """Over several processes, accelerate pads the last evaluation batches with repeated rows, which
        `gather_for_metrics` drops from the gathered losses; but a batch's loss, and each component, is a mean over
        all its rows. With only losses gathered, evaluate just the rows that are kept, so that every example counts
        once in the loss and its components, as in one process."""
        kept = self._rows_kept(inputs) if prediction_loss_only else None
        if kept is not None and kept > 0:
            inputs = {k: v[:kept] if isinstance(v, torch.Tensor) and v.dim() else v for k, v in inputs.items()}
        self._padding_only = kept == 0  # the loss of this batch is dropped when gathered
        try:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)
        finally:
            self._padding_only = False

    def _rows_kept(self, inputs) -> int | None:
        """How many leading rows of this process's batch are real examples, when some are padding; else None.
        `gather_for_metrics` keeps the first `remainder` rows of the last batches, concatenated in process order."""
        state, size = self.accelerator.gradient_state, _batch_size(inputs)
        if self.accelerator.num_processes == 1 or not state.end_of_dataloader or state.remainder <= 0:
            return None
        kept = max(0, min(size, state.remainder - self.accelerator.process_index * size))
        return kept if kept < size else None

    def evaluation_loop(self, *args, metric_key_prefix: str = "eval", **kwargs):
        self._component_sums["eval"], self._component_counts["eval"] = None, 0
        output = super().evaluation_loop(*args, metric_key_prefix=metric_key_prefix, **kwargs)
        output.metrics.update(self._pop_components("eval", prefix=f"{metric_key_prefix}_"))
        return output


def _batch_size(inputs) -> int:
    first = next(value for value in inputs.values() if isinstance(value, torch.Tensor))
    return first.shape[0]
