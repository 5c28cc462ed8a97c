"""Train the small byte-level BPE tokenizer shipped in ``ftdata/tokenize/assets/tokenizer/``.

Usage (from the repository root)::

    python scripts/train_tokenizer.py            # regenerates the shipped tokenizer
    python scripts/train_tokenizer.py --out DIR  # write it somewhere else

The training text is written by this project only: every text field of
``examples/reviews/reviews.jsonl`` (run ``examples/reviews/make_reviews.py``
first if it is missing), the phrase banks of ``make_reviews.py``, and the
hand-written ``PARAGRAPHS`` below (everyday conversation, task instructions,
digits, punctuation and a few simple German words). Nothing is downloaded.

The tokenizer is GPT-2 style byte-level BPE (every byte is representable, so
there are no unknown tokens) with ``vocab_size=4096`` and ``min_frequency=2``.
Special tokens get ids 0..8 in ``SPECIAL_TOKENS`` order. No BOS/EOS is added
automatically and no chat template is set. Training is deterministic: running
the script twice produces a byte-identical ``tokenizer.json``.
"""

import argparse
import importlib.util
import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parents[1]
REVIEWS_DIR = ROOT / "examples" / "reviews"
DEFAULT_OUT = ROOT / "ftdata" / "tokenize" / "assets" / "tokenizer"
VOCAB_SIZE = 4096
MIN_FREQUENCY = 2
SPECIAL_TOKENS = [
    "<|endoftext|>", "<pad>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<unk>",
]

PARAGRAPHS = [
    "Hi there! How are you doing today? I'm fine, thanks. And you? Not bad at all.",
    "Hello, is this a good time to talk? Sure, go ahead. What's on your mind?",
    "Good morning. Could you help me with something? Of course, what do you need?",
    "Thank you so much. You're welcome. No problem. Sorry, I didn't catch that. Could you repeat it, please?",
    "Where are you going this weekend? We're visiting my parents in the countryside. That sounds lovely.",
    "What time does the train leave? It leaves at 7:45 from platform 3, and the ticket costs $12.50.",
    "I'd like to book a table for two at eight o'clock tonight. Certainly, may I have your name?",
    "Can I pay by credit card? Yes, we accept cards and cash. Here is your receipt.",
    "My phone battery is dead again. You can borrow my charger; it's in the blue bag on the chair.",
    "Let's meet at the cafe near the station at half past ten. Don't be late this time!",
    "Did you finish the report? Almost. I'll send it to you before lunch, I promise.",
    "The weather is terrible today: rain, wind and only 8 degrees. Take an umbrella with you.",
    "We need milk, eggs, bread, three apples and a bag of rice. Anything else? Maybe some cheese.",
    "Excuse me, how do I get to the museum? Go straight ahead, turn left at the bank, and it's on your right.",
    "I have a doctor's appointment on Monday, so I can't come to the meeting. Is Tuesday okay for you?",
    "#Person1#: Hi, Mary. Long time no see! #Person2#: Hello, Tom. I've been really busy with work.",
    "#Person1#: What would you like to drink? #Person2#: Just a glass of water, please. #Person1#: Sure.",
    "#Person1#: Why were you late? #Person2#: The bus broke down, and I had to walk the rest of the way.",
    "Person A asks Person B about the new job. Person B says the people are friendly but the hours are long.",
    "Hello! Hi! Hey! Hello again. Hi, how was your day? Hey, nice to meet you. Hello, my name is Anna.",
    "Yes, no, maybe, okay, sure, of course, I think so, I don't think so, I hope so, I guess, why not?",
    "I want to go home now. Do you want to come with me? I need to buy some food first.",
    "They are talking about the new house, the old car, the small garden and the big kitchen.",
    "Could you tell me more about the job? The salary is good, the office is close, and the team is friendly.",
    "My brother works at a hospital and my sister is a teacher at the local school.",
    "We usually have breakfast at seven, lunch at noon and dinner with the whole family in the evening.",
    "I'm looking for a birthday present for my friend. How about a book, a scarf or some nice tea?",
    "The customer wants to return the shoes because they are too small. The clerk offers a larger size.",
    "#Person1#: Are you free tonight? #Person2#: I'm afraid not. I have to study for an exam tomorrow.",
    "#Person1#: How much is this jacket? #Person2#: It's 80 dollars, but today there is a 20% discount.",
    "#Person1#: I think I'm lost. #Person2#: Don't worry, I'll show you the way. It's only five minutes from here.",
    "Summarize the following conversation.",
    "Summarize the following conversation in one sentence.",
    "Summarize the dialogue below. Write a short summary of the main points.",
    "Translate to German: A man is walking his dog along the street.",
    "Translate the following English sentence to German.",
    "Translate to German: A woman is reading a book in the park.",
    "Ein Mann geht mit seinem Hund die Straße entlang. Eine Frau liest ein Buch im Park.",
    "Ein Mann, eine Frau, ein Kind und ein Hund. Die Straße ist nass. Der Mann trägt eine Jacke.",
    "Zwei Männer spielen Fußball. Eine Frau und ein Mädchen sitzen auf einer Bank. Ein Junge läuft.",
    "Ein Hund rennt über die Wiese. Eine Gruppe von Menschen steht vor einem Gebäude.",
    "Is this message spam? Answer yes or no.",
    "Is this message spam? \"Congratulations! You have won a free prize. Click the link now!\" Answer: yes.",
    "Is this message spam? \"Hey, are we still meeting for lunch tomorrow?\" Answer: no.",
    "Classify the message as spam or ham. Label: spam. Label: ham.",
    "Rate this review from 1 to 5 stars. Rating: 4. Rating: 2. Answer with a single number.",
    "Rate this review: \"The kettle works well but the lid is loose.\" Answer: 3",
    "Is the sentiment of this review positive or negative? The sentiment is positive. The sentiment is negative.",
    "Answer the question based on the context. Question: What is the capital of France? Answer: Paris.",
    "Write a short title for this product review. Give a one-line answer.",
    "You are a helpful assistant. Follow the instructions carefully and answer briefly.",
    "The user asked a question and the assistant replied with a clear, polite answer.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 20 25 50 99 100 250 1000 2024 3.14 0.5 -7 +42 1,000,000 50% #1",
    "Dates and times: 2023-05-17, 12/31/2024, 09:30, 18:00, Monday, Friday, January, March, July, December.",
    "Punctuation: . , ; : ! ? ' \" ( ) [ ] { } < > / \\ | - _ + = * & ^ % $ # @ ~ ` ... -- (yes) [no] {ok}",
    "Email: support@example.com, website: https://www.example.org/help?id=42&lang=en, phone: +1 555-0100.",
    "First, open the box. Second, remove the plastic. Third, plug it in. Finally, press the power button.",
    "Please read the text and answer: who, what, when, where, why, and how?",
    "He said, \"I'll be there at 5.\" She replied, \"Great, see you then!\" They both laughed.",
    "It's, don't, can't, won't, I'm, you're, we've, they'll, she'd, isn't, wasn't, couldn't, shouldn't.",
    "Tabs\tand\ttabs, lines\nand\nlines, Windows line endings\r\nand blank lines\n\nare all plain text.",
]


def load_make_reviews():
    """Import ``examples/reviews/make_reviews.py`` (not a package) as a module."""
    spec = importlib.util.spec_from_file_location("make_reviews", REVIEWS_DIR / "make_reviews.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bank_strings(obj):
    """Yield every string inside nested dicts/lists/tuples, in a stable order."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key in obj:
            yield from bank_strings(obj[key])
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from bank_strings(item)


def training_texts():
    """All training text, in a fixed order."""
    texts = list(PARAGRAPHS)
    mr = load_make_reviews()
    for name in ("CATEGORIES", "OPENINGS", "GENERIC_PROS", "GENERIC_CONS", "PRO_FRAMES",
                 "FAIR_FRAMES", "CON_FRAMES", "VERDICTS", "HEADLINES", "SINGULAR", "PLURAL"):
        texts.extend(bank_strings(getattr(mr, name)))
    reviews_path = REVIEWS_DIR / "reviews.jsonl"
    if not reviews_path.exists():
        raise SystemExit(f"{reviews_path} is missing: run examples/reviews/make_reviews.py first")
    with reviews_path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts.extend(v for v in row.values() if isinstance(v, str))
    return texts


def train(texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=MIN_FREQUENCY,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args()

    from transformers import PreTrainedTokenizerFast

    tok = train(training_texts())
    for i, special in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(special) == i, (special, tok.token_to_id(special))
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=2048,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    hf_tok.save_pretrained(str(args.out))
    print(f"saved tokenizer with {tok.get_vocab_size()} tokens to {args.out}")


if __name__ == "__main__":
    main()
