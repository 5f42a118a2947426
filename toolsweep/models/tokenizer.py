"""The built-in model's tokenizer: a small byte-level BPE with the chat template attached.

Why a custom pre-tokenizer: GPT-2's regex glues a leading space to each word, so ``Lyon`` in
"weather in Lyon" and in ``"city": "Lyon"`` become different tokens, and a tiny model would have to
learn that mapping for every value it copies, including values it never saw. Here a space between
two words is its own token, so a word is the same token sequence in the request and in the call and
copying generalises to unseen values. A space next to punctuation stays in the punctuation run
(``": "`` is one pre-token), which keeps JSON short. Digits are single tokens.

The tokenizer is saved as a plain ``PreTrainedTokenizerFast`` (``tokenizer_class`` is written
explicitly), so ``AutoTokenizer`` does not substitute a model-specific class that rebuilds the
pre-tokenizer and changes the ids.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from toolsweep.models.chat_templates import chat_template_text

__all__ = [
    "BOS_TOKEN", "EOS_TOKEN", "PAD_TOKEN", "PRETOKENIZE_PATTERN", "SPECIAL_TOKENS", "TOOL_TOKENS",
    "chat_template", "render", "train_tokenizer",
]

PAD_TOKEN = "<|endoftext|>"
BOS_TOKEN = "<|im_start|>"  # every rendered chat starts with it, so nothing ever needs to prepend it
EOS_TOKEN = "<|im_end|>"  # ends every turn; generation stops on it
SPECIAL_TOKENS: tuple[str, ...] = (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN)
TOOL_TOKENS: tuple[str, ...] = ("<tool_call>", "</tool_call>")
"""Single tokens that are *not* special: they survive ``decode(..., skip_special_tokens=True)``."""

PRETOKENIZE_PATTERN = r"\p{L}+|\p{N}|(?:[^\s\p{L}\p{N}]| (?=[^\s\p{L}]))+|\s+"
"""Letter runs, single digits, punctuation runs (with the spaces inside them), other whitespace."""


def chat_template() -> str:
    """The built-in model's Jinja chat template: ``compact`` (one signature line per tool)."""
    return chat_template_text("compact")


def render(example: dict) -> str:
    """The text of a contract example (``messages`` + ``tools``) under the shipped template."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template([example["messages"]], tools=example.get("tools"),
                                        chat_template=chat_template())
    return rendered[0]


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])


def train_tokenizer(texts: Iterable[str], *, vocab_size: int = 2048, min_frequency: int = 2
                    ) -> PreTrainedTokenizerFast:
    """Train the BPE on ``texts`` (deterministic for the same texts in the same order).

    Ids: the special tokens first (0, 1, 2), then the 256 byte symbols and the merges, then the two
    tool-call tokens. ``vocab_size`` counts the special tokens but not the tool-call tokens.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
        special_tokens=list(SPECIAL_TOKENS), initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False, single_word=False) for t in TOOL_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS_TOKEN, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN,
        padding_side="right", model_max_length=2048, clean_up_tokenization_spaces=False,
    )
    fast.chat_template = chat_template()
    return fast
