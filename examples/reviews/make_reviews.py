"""Generate the synthetic product-review example dataset.

Every phrase below was written for this project; no external dataset text is
used. Reviews are assembled from small phrase banks with a fixed-seed
``random.Random`` so the output is fully deterministic::

    python examples/reviews/make_reviews.py          # writes reviews.jsonl

Each row of ``reviews.jsonl`` has: ``review_id`` ("r0001"...), ``product_id``
("p001"...), ``title``, ``star_rating`` (1-5), ``headline`` and ``body``
(2-5 sentences whose sentiment matches the rating).
"""

import json
import random
from pathlib import Path

SEED = 20240607
N_REVIEWS = 400
N_PRODUCTS = 120
OUT_PATH = Path(__file__).with_name("reviews.jsonl")

# category -> (brands, adjectives, nouns, category-specific pros, category-specific cons)
CATEGORIES = {
    "kitchen": (
        ["HomeNest", "Copperleaf", "Kitchora"],
        ["Stainless Steel", "Compact", "Nonstick", "Bamboo", "Electric"],
        ["Kettle", "Garlic Press", "Vegetable Peeler", "Spice Grinder", "Cutting Board", "Frying Pan"],
        ["it works exactly as described", "cleanup takes less than a minute", "it feels solid in the hand",
         "it fits neatly in a small drawer"],
        ["the handle feels flimsy", "the coating started to flake after a month",
         "it is hard to clean in the corners", "the lid never sits flat"],
    ),
    "books": (
        ["Lantern Press", "Bluefield Books", "Oakridge"],
        ["Illustrated", "Paperback", "Collected", "Pocket"],
        ["Guide to Bread Baking", "History of Small Harbors", "Mystery at Willow Lane",
         "Field Guide to Garden Birds", "Beginner's Chess Handbook"],
        ["the chapters are short and easy to follow", "the illustrations are lovely",
         "I could not put it down", "the author explains things clearly"],
        ["the middle drags for far too long", "the print is tiny",
         "several pages were bound upside down", "the ending felt rushed"],
    ),
    "tea": (
        ["Misty Hill", "Teagarden & Co", "Saffron Leaf"],
        ["Organic", "Loose Leaf", "Smoky", "Decaf", "Honey"],
        ["Green Tea", "Earl Grey", "Chamomile Blend", "Oolong", "Chai Sampler"],
        ["the aroma fills the whole kitchen", "it tastes fresh and bright",
         "the leaves unfurl beautifully", "it is smooth even when steeped too long"],
        ["it tastes like dust", "the bag arrived half empty",
         "the flavor is very weak", "it turns bitter almost immediately"],
    ),
    "audio": (
        ["Soundara", "Pulsewave", "Quietline"],
        ["Wireless", "Noise Cancelling", "Over-Ear", "Sport", "Foldable"],
        ["Headphones", "Earbuds", "Earphones", "Gaming Headphones"],
        ["the bass is punchy without being muddy", "the battery lasts all week",
         "pairing with my phone took seconds", "they stay comfortable for hours"],
        ["the left side keeps cutting out", "the battery dies after two hours",
         "they pinch my ears after twenty minutes", "there is a constant hiss"],
    ),
    "home": (
        ["Fernway", "Brightnook", "Stillwater"],
        ["Cotton", "Scented", "Adjustable", "Handmade", "Woven"],
        ["Desk Lamp", "Throw Blanket", "Soy Candle", "Plant Pot", "Storage Basket"],
        ["it looks even nicer than the photos", "the colors are warm and rich",
         "it was easy to set up", "the stitching is very neat"],
        ["the color is nothing like the photo", "it wobbles on a flat table",
         "the smell is overpowering", "it arrived cracked"],
    ),
}

OPENINGS = {
    5: ["I absolutely love {this} {item}.", "{This} {item} exceeded every expectation I had.",
        "Best purchase I have made all year.", "I bought {this} {item} on a whim and {it} {is} wonderful."],
    4: ["Really happy with {this} {item} overall.", "{This} {item} {is} very good, with one small catch.",
        "I would buy {this} {item} again.", "Pleasantly surprised by {this} {item}."],
    3: ["{This} {item} {is} fine, nothing more.", "Mixed feelings about {this} {item}.",
        "{It} {does} the job, but only just.", "Average quality at a fair price."],
    2: ["I was disappointed with {this} {item}.", "{This} {item} did not live up to the description.",
        "Not great, to be honest.", "I expected more from {this} {item}."],
    1: ["Do not buy {this} {item}.", "{This} {item} {was} a complete waste of money.",
        "Terrible from the moment I opened the box.", "I regret buying {this} {item}."],
}
GENERIC_PROS = ["{it} arrived two days early", "the packaging was tidy and recyclable",
                "the price is reasonable", "{it} would make a nice gift"]
GENERIC_CONS = ["the instructions were confusing", "shipping took almost three weeks",
                "{it} {is} overpriced for what you get", "customer service never replied"]
PRO_FRAMES = ["On the plus side, {x}.", "I really like that {x}.", "What stands out is that {x}.",
              "Also, {x}."]
CONFLICTS = {"the price is reasonable": "overpriced", "{it} arrived two days early": "three weeks"}
FAIR_FRAMES = ["To be fair, {x}.", "The one good thing is that {x}."]  # pros in low ratings
CON_FRAMES = ["Unfortunately, {x}.", "My main complaint is that {x}.", "The downside is that {x}.",
              "Sadly, {x}."]
VERDICTS = {
    5: ["Five stars, highly recommended.", "I have already ordered a second one as a gift.",
        "Worth every penny.", "I would recommend {obj} to anyone."],
    4: ["Still a solid choice.", "Four stars from me.", "Recommended, with that minor caveat.",
        "Good value overall."],
    3: ["Okay if {it} {is} on sale.", "Three stars, {it} {is} just average.",
        "I might look elsewhere next time.", "Not bad, not great."],
    2: ["I would not buy {obj} again.", "Two stars at most.",
        "Look for a better option.", "I am sending {obj} back."],
    1: ["Returned {obj} the same day.", "One star, and that is generous.",
        "Save your money.", "Avoid this one."],
}
HEADLINES = {
    5: ["Absolutely love {obj}", "Exceeded all my expectations", "Best {item} I have owned",
        "Perfect in every way", "Wonderful little {item}"],
    4: ["Very good with minor flaws", "Solid and reliable {item}", "Happy with this purchase",
        "Great value for money", "Almost perfect {item}"],
    3: ["{It} {is} just okay", "Average {item}, nothing special", "Does the job, barely",
        "Mixed feelings about this one", "Fine but forgettable"],
    2: ["Disappointing {item} overall", "Not what I expected", "Several annoying problems",
        "Would not buy again", "Below average quality"],
    1: ["Complete waste of money", "Broke almost right away", "Avoid {this} {item}",
        "Worst purchase this year", "Terrible, do not buy"],
}
RATING_WEIGHTS = [2, 3, 2, 4, 5]  # relative frequency of ratings 1..5
ITEM_WORD = {"books": "book", "tea": "tea"}  # how reviewers refer to items in these categories
SINGULAR = {"this": "this", "This": "This", "it": "it", "It": "It", "obj": "it",
            "is": "is", "was": "was", "does": "does"}
PLURAL = {"this": "these", "This": "These", "it": "they", "It": "They", "obj": "them",
          "is": "are", "was": "were", "does": "do"}


def make_products(rng):
    """Return ``N_PRODUCTS`` unique (product_id, category, title, item, grammar) tuples."""
    titles, products = set(), []
    cats = sorted(CATEGORIES)
    while len(products) < N_PRODUCTS:
        cat = cats[len(products) % len(cats)]
        brands, adjs, nouns, _, _ = CATEGORIES[cat]
        noun = rng.choice(nouns)
        title = f"{rng.choice(brands)} {rng.choice(adjs)} {noun}"
        if title in titles:
            continue
        titles.add(title)
        item = ITEM_WORD.get(cat, noun.lower())
        grammar = PLURAL if item.endswith("s") else SINGULAR
        products.append((f"p{len(products) + 1:03d}", cat, title, item, grammar))
    return products


def make_body(rng, rating, cat, item, g):
    """Assemble 2-5 sentences whose tone matches ``rating``."""
    _, _, _, cat_pros, cat_cons = CATEGORIES[cat]
    n_pro, n_con = {5: (2, 0), 4: (1, 1), 3: (1, 1), 2: (0, 2), 1: (0, 2)}[rating]
    if rating == 2 and rng.random() < 0.5:
        n_pro, n_con = 1, 1
    r = rng.random()
    if r < 0.2:  # a terser review: one fewer point
        n_pro, n_con = (n_pro - 1, n_con) if n_pro >= n_con else (n_pro, n_con - 1)
    elif r > 0.8:  # a chattier one: one more point in the rating's direction
        n_pro, n_con = (n_pro + 1, n_con) if rating >= 4 else (n_pro, n_con + 1)
    cons = rng.sample(cat_cons + GENERIC_CONS, n_con)
    # never praise something a chosen complaint contradicts (e.g. price, shipping speed)
    pros = [p for p in cat_pros + GENERIC_PROS if not any(CONFLICTS.get(p, "@") in c for c in cons)]
    pros = rng.sample(pros, n_pro)
    pro_frames = PRO_FRAMES if rating >= 3 else FAIR_FRAMES
    sentences = [rng.choice(OPENINGS[rating])]
    sentences += [f.format(x=x) for f, x in zip(rng.sample(pro_frames, n_pro), pros)]
    sentences += [f.format(x=x) for f, x in zip(rng.sample(CON_FRAMES, n_con), cons)]
    if len(sentences) < 2 or rng.random() < 0.85:
        sentences.append(rng.choice(VERDICTS[rating]))
    return " ".join(sentences).format(item=item, **g)


def make_reviews(seed=SEED):
    rng = random.Random(seed)
    products = make_products(rng)
    rows = []
    for i in range(N_REVIEWS):
        # the first pass covers every product once; the rest are drawn at random
        pid, cat, title, item, g = products[i] if i < N_PRODUCTS else rng.choice(products)
        rating = rng.choices(range(1, 6), weights=RATING_WEIGHTS)[0]
        headline = rng.choice(HEADLINES[rating]).format(item=item, **g)
        rows.append({
            "review_id": f"r{i + 1:04d}",
            "product_id": pid,
            "title": title,
            "star_rating": rating,
            "headline": headline[0].upper() + headline[1:],
            "body": make_body(rng, rating, cat, item, g),
        })
    return rows


def main():
    rows = make_reviews()
    with OUT_PATH.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} reviews to {OUT_PATH}")


if __name__ == "__main__":
    main()
