"""Synthetic arithmetic conversations with a step-by-step reasoning trace, from a seed.

An example is (category, history, question, reasoning, answer sentence); history is a
list of earlier (question, answer sentence) turns, rendered as R1's chat template
renders them (past reasoning dropped).

Phrasing. Every category has many templates; each template belongs to the "train"
or the "heldout" split, and so do the prefixes and suffixes wrapped around questions.
Training only ever sees train templates; evaluation on "heldout" measures phrasings the
model never saw. Questions are also varied in case, spacing and final punctuation.

The reasoning is written so that each token needs only local look-ups for a small
transformer:
  * the first line restates the question as an expression (the parsing step); signed
    operands are rewritten to unsigned ones (`-5 + 12 = 12 - 5`);
  * column arithmetic goes right to left, one line per column; each line names its
    digits, the carry/borrow, the digits found "so far" (the new digit prepended to the
    previous line's string, a contiguous copy) and what is "left" of each operand, so
    the next column's digits are the last digit before the operator and the last
    digit of the previous line; an exhausted operand shows as 0;
  * subtraction always walks a - b; a borrow left over at the end means a < b, and the
    trace then computes b - a and negates it (no up-front comparison to guess);
  * comparison is the same walk: the final borrow (or an all-zero difference) decides;
  * multiplication does one pass per digit of the multiplier, then adds the partial
    products with the addition pass;
  * a follow-up ("And that times 3?") first copies the previous answer.
The answer is always "The answer is N." (N a number, or yes/no for yes/no questions),
or a fixed reply for questions that are not arithmetic, so evaluation can parse it.
"""
import random
import re

CATEGORIES = ["add", "sub", "mul", "cmp", "word", "follow", "other"]
SPLITS = ("train", "heldout")

NAMES = [("Anna", "she", "her"), ("Ben", "he", "him"), ("Carla", "she", "her"),
         ("David", "he", "him"), ("Emma", "she", "her"), ("Farid", "he", "him"),
         ("Grace", "she", "her"), ("Hugo", "he", "him"), ("Iris", "she", "her"),
         ("Jonas", "he", "him"), ("Kim", "she", "her"), ("Leo", "he", "him"),
         ("Maya", "she", "her"), ("Nina", "she", "her"), ("Omar", "he", "him"),
         ("Priya", "she", "her"), ("Quinn", "he", "him"), ("Rosa", "she", "her"),
         ("Sam", "he", "him"), ("Tara", "she", "her"), ("Uma", "she", "her"),
         ("Victor", "he", "him"), ("Wen", "she", "her"), ("Yusuf", "he", "him"),
         ("Zoe", "she", "her"), ("Ali", "he", "him"), ("Lucia", "she", "her"),
         ("Mateo", "he", "him"), ("Chen", "he", "him"), ("Aisha", "she", "her"),
         ("my sister", "she", "her"), ("my brother", "he", "him"), ("the teacher", "she", "her"),
         ("the farmer", "he", "him"), ("a boy", "he", "him"), ("a girl", "she", "her")]
ITEMS = ["apples", "books", "marbles", "stickers", "coins", "pencils", "cards", "shells",
         "stamps", "cookies", "oranges", "balloons", "flowers", "toys", "candies", "eggs",
         "buttons", "beads", "nuts", "shirts", "cupcakes", "rocks", "tickets", "plates",
         "bottles", "socks", "photos", "seeds", "bricks", "letters"]
CONTAINERS = ["boxes", "bags", "baskets", "packs", "jars", "crates", "trays", "rows",
              "shelves", "cartons"]

# ---------------------------------------------------------------- templates
# {E} is an expression ("37 + 48"); {a}, {b} are operands; word problems also use
# {N} (a name), {P}/{O} (its subject/object pronoun), {M} (another name), {it} (items),
# {c} (containers); follow-ups use {k}. Keys are (category or operation, split).

EXPR_FRAMES = {
    "train": ["What is {E}?", "What's {E}?", "Compute {E}.", "Calculate {E}", "{E} = ?", "{E}=",
              "{E}", "{E}?", "How much is {E}?", "Evaluate {E}.", "Please compute {E}.",
              "Can you calculate {E}?", "Tell me {E}.", "What does {E} equal?", "Find {E}.",
              "Solve {E}", "What do you get for {E}?", "I need {E}.",
              "Quick question: what is {E}?", "Work out {E}.", "what is {E}", "So what is {E}?",
              "Answer this: {E}", "Do you know what {E} is?"],
    "heldout": ["Could you work out {E} for me?", "What would {E} be?", "{E} equals what?",
                "Figure out {E}.", "Help me with {E}.", "{E} is?", "Whats {E}",
                "I wonder what {E} is."],
}
NAMED_FRAMES = {
    ("add", "train"): ["What is the sum of {a} and {b}?", "Add {a} and {b}.", "Add {a} to {b}.",
                       "Find the sum of {a} and {b}.", "What is {a} added to {b}?",
                       "Sum {a} and {b}", "What is the total of {a} and {b}?",
                       "{a} and {b} added together?", "What do you get if you add {a} and {b}?"],
    ("add", "heldout"): ["Can you add {a} and {b}?", "What do {a} and {b} add up to?",
                         "Give me the sum of {a} and {b}.", "Total of {a} and {b}?"],
    ("sub", "train"): ["Subtract {b} from {a}.", "What is the difference between {a} and {b}?",
                       "Take {b} away from {a}.", "What is {a} take away {b}?",
                       "What do you get if you subtract {b} from {a}?",
                       "Find the difference of {a} and {b}.", "What is {b} less than {a}?",
                       "How much is {a} less {b}?"],
    ("sub", "heldout"): ["Please subtract {b} from {a}.", "Difference between {a} and {b}?",
                         "What is left when {b} is taken from {a}?",
                         "If I subtract {b} from {a}, what do I get?"],
    ("mul", "train"): ["What is the product of {a} and {b}?", "Multiply {a} by {b}.",
                       "Multiply {a} and {b}.", "Find the product of {a} and {b}.",
                       "What is {a} multiplied by {b}?",
                       "What do you get when you multiply {a} by {b}?"],
    ("mul", "heldout"): ["Product of {a} and {b}?", "Can you multiply {a} by {b}?",
                         "Please multiply {a} and {b}."],
}
OP_WORDS = {"add": ["+", "+", "plus"], "sub": ["-", "-", "minus"],
            "mul": ["×", "*", "x", "times", "multiplied by"]}
PREFIXES = {"train": ["Hi! ", "Hey, ", "Quick one: ", "Please help: ", "Question: ", "Hello, ",
                      "Ok, "],
            "heldout": ["Hello there. ", "So, "]}
SUFFIXES = {"train": [" Thanks!", " Please.", " Show your work.", " Thank you.", "!!", " thx"],
            "heldout": [" Thanks a lot.", " Be careful."]}

CMP_FRAMES = {
    ("max", "train"): ["Which is larger, {a} or {b}?", "Which number is bigger: {a} or {b}?",
                       "Which is greater, {a} or {b}?", "What is the larger of {a} and {b}?",
                       "Which is more, {a} or {b}?", "Which one is bigger, {a} or {b}?",
                       "What is the maximum of {a} and {b}?",
                       "Which is the bigger number, {a} or {b}?", "{a} or {b}: which is larger?",
                       "Which is higher, {a} or {b}?"],
    ("max", "heldout"): ["Of {a} and {b}, which is bigger?", "Tell me which is greater: {a} or {b}.",
                         "Which is larger: {a}, {b}?", "Bigger of {a} and {b}?"],
    ("min", "train"): ["Which is smaller, {a} or {b}?", "Which number is less: {a} or {b}?",
                       "What is the smaller of {a} and {b}?", "Which is lower, {a} or {b}?",
                       "What is the minimum of {a} and {b}?", "Which one is smaller, {a} or {b}?",
                       "{a} or {b}: which is less?", "Which is the smaller number, {a} or {b}?"],
    ("min", "heldout"): ["Of {a} and {b}, which is smaller?", "Tell me which is less: {a} or {b}.",
                         "Smaller of {a} and {b}?"],
    (">", "train"): ["Is {a} larger than {b}?", "Is {a} bigger than {b}?", "Is {a} greater than {b}?",
                     "Is {a} more than {b}?", "Is {a} > {b}?", "Is {a} higher than {b}?",
                     "Is {a} larger than {b} or not?", "{a} > {b}?"],
    (">", "heldout"): ["Is it true that {a} is bigger than {b}?", "{a} is greater than {b}, right?",
                       "Would you say {a} is larger than {b}?"],
    ("<", "train"): ["Is {a} smaller than {b}?", "Is {a} less than {b}?", "Is {a} lower than {b}?",
                     "Is {a} < {b}?", "Is {a} smaller than {b} or not?", "{a} < {b}?",
                     "Is {a} fewer than {b}?"],
    ("<", "heldout"): ["Is it true that {a} is smaller than {b}?", "{a} is less than {b}, right?",
                       "Would you say {a} is smaller than {b}?"],
}

WORD_FRAMES = {
    ("add", "train"): [
        "{N} has {a} {it}. {P} buys {b} more. How many {it} does {N} have now?",
        "{N} has {a} {it} and finds {b} more. How many {it} does {P} have now?",
        "{N} had {a} {it}. {M} gave {O} {b} more. How many {it} does {N} have now?",
        "There are {a} {it} in a box and {b} {it} on the table. How many {it} are there in all?",
        "{N} collected {a} {it} on Monday and {b} {it} on Tuesday. How many {it} did {P} collect in total?",
        "A shop sold {a} {it} in the morning and {b} {it} in the afternoon. How many {it} did it sell?",
        "{N} has {a} {it} and {M} has {b} {it}. How many {it} do they have together?",
        "{N} picked {a} {it}. Then {P} picked {b} more. How many {it} did {N} pick altogether?",
        "{N} received {a} {it} and then {b} more. How many {it} did {P} receive?",
        "{N} gets {a} {it} from {M} and {b} {it} from a friend. How many {it} does {P} get?",
        "A class made {a} {it} and another class made {b}. How many {it} were made in total?"],
    ("add", "heldout"): [
        "{N} owns {a} {it}. {M} gives {O} {b} more. How many {it} does {N} own now?",
        "{N} found {a} {it} in the garden and {b} {it} in the park. How many {it} did {P} find?",
        "There were {a} {it} on a shelf. {N} put {b} more there. How many {it} are on the shelf now?",
        "{N} and {M} have {a} and {b} {it}. How many {it} is that together?"],
    ("sub", "train"): [
        "{N} has {a} {it} and gives away {b}. How many {it} are left?",
        "{N} had {a} {it} and lost {b} of them. How many {it} does {P} have now?",
        "There were {a} {it} in a basket. {N} took {b}. How many {it} are still in the basket?",
        "{N} has {a} {it} and sells {b}. How many {it} remain?",
        "A shop had {a} {it} and sold {b}. How many {it} are left?",
        "{N} has {a} {it}. {P} uses {b} of them. How many {it} are left?",
        "{N} has {a} {it} and {M} has {b} {it}. How many more {it} does {N} have than {M}?",
        "{N} had {a} {it}. {P} gave {b} to {M}. How many {it} does {N} have left?",
        "{N} needs {a} {it} and already has {b}. How many more {it} does {P} need?",
        "{N} had {a} {it} and ate {b}. How many {it} are left?",
        "{N} had {a} {it} but broke {b}. How many {it} does {P} have now?"],
    ("sub", "heldout"): [
        "{N} starts with {a} {it} and gives {b} away. How many {it} remain?",
        "From {a} {it}, {N} sold {b}. How many {it} are left?",
        "{N} had {a} {it} but lost {b}. How many {it} are left now?",
        "{N} bought {a} {it} and used {b}. How many {it} does {P} still have?"],
    ("mul", "train"): [
        "There are {a} {c} with {b} {it} in each. How many {it} are there in total?",
        "{N} buys {a} {c} of {it}. Each holds {b} {it}. How many {it} does {P} have?",
        "Each of the {a} {c} has {b} {it}. How many {it} are there altogether?",
        "{N} packs {b} {it} into each of {a} {c}. How many {it} does {P} pack?",
        "{N} has {a} {c}, and every one holds {b} {it}. How many {it} is that?",
        "A store has {a} {c} of {it} with {b} in each. How many {it} does the store have?"],
    ("mul", "heldout"): [
        "{a} {c} hold {b} {it} each. How many {it} in all?",
        "{N} fills {a} {c} with {b} {it} each. How many {it} does {P} use?",
        "{N} has {a} {c}. There are {b} {it} in every one. How many {it} does {N} have?"],
}

FOLLOW_FRAMES = {
    ("add", "train"): ["And that plus {k}?", "Add {k} to that.", "Now add {k}.", "What is that + {k}?",
                       "Plus {k}?", "and add {k} to it", "Add {k} to the result.",
                       "What if you add {k}?", "And the result plus {k}?", "Now add {k} to it."],
    ("add", "heldout"): ["Then add {k}.", "Now what is it plus {k}?", "What's the result plus {k}?"],
    ("sub", "train"): ["And that minus {k}?", "Subtract {k} from that.", "Now subtract {k}.",
                       "What is that - {k}?", "Minus {k}?", "Take {k} away from it.",
                       "Subtract {k} from the result.", "And the result minus {k}?"],
    ("rsub", "train"): ["What is {k} minus that?", "And {k} minus it?", "Subtract that from {k}."],
    ("sub", "heldout"): ["Then subtract {k}.", "Now what is it minus {k}?"],
    ("rsub", "heldout"): ["And {k} minus the result?"],
    ("mul", "train"): ["And that times {k}?", "Multiply that by {k}.", "Now multiply by {k}.",
                       "What is that × {k}?", "Times {k}?", "Multiply it by {k}.",
                       "Multiply the result by {k}.", "And that * {k}?"],
    ("mul", "heldout"): ["Then multiply by {k}.", "Now what is it times {k}?",
                         "What's the result times {k}?"],
}

OTHER = {
    "greet": {"train": ["Hello!", "Hi there", "Hey", "Good morning", "Good evening!", "Thanks!",
                        "Thank you", "Bye", "How are you?", "Who are you?", "What can you do?",
                        "What is your name?", "Are you a robot?", "Help", "ok", "yes", "no",
                        "Hmm", "Why?", "Cool", "lol", "Are you there?", "test"],
              "heldout": ["Hiya!", "What's up?", "Nice to meet you.", "Good night", "Who made you?",
                          "Are you smart?"]},
    "topic": {"train": ["the weather", "France", "quantum physics", "love", "music", "dogs",
                        "the moon", "history", "cooking pasta", "Python", "the ocean", "football",
                        "chess", "coffee", "the internet", "space travel", "poetry", "birds",
                        "trees", "Paris", "computers", "the sun", "rain", "money", "sleep",
                        "cats", "Germany", "art", "science", "winter", "movies", "my homework"],
              "heldout": ["volcanoes", "Shakespeare", "the stock market", "gardening", "jazz",
                          "Tokyo", "electric cars", "the Roman empire", "whales", "mountains"]},
    "frame": {"train": ["Tell me about {t}.", "What do you know about {t}?", "Explain {t}.",
                        "Write a poem about {t}.", "What is {t}?", "Can you help me with {t}?",
                        "I love {t}.", "Why is {t} important?", "Give me a fact about {t}.",
                        "How does {t} work?", "Write a story about {t}.", "Describe {t}.",
                        "What do you think of {t}?", "I want to learn about {t}."],
              "heldout": ["Could you explain {t} to a child?", "What's your opinion on {t}?",
                          "Teach me about {t}.", "Is {t} interesting?", "Let's talk about {t}."]},
    "task": {"train": ["Translate 'cat' into German.", "Tell me a joke.", "Write a poem.",
                       "Summarize this text.", "Fix my code.", "What time is it?",
                       "Where is the station?", "Recommend a book.", "How do I cook rice?",
                       "Who won the game yesterday?", "Write a haiku.", "What should I eat?",
                       "Can you speak French?", "How do I learn to code?"],
             "heldout": ["Write an email to my boss.", "What is the meaning of life?",
                         "Can you sing?", "Where do you live?", "Please draw a cat."]},
    "number": {"train": ["Who won the World Cup in {y}?", "What happened in {y}?", "I am {n} years old.",
                         "My room number is {n}.", "Tell me about the year {y}.",
                         "I have {n} cats.", "Call me at {y}.", "Is {n} a lucky number?"],
               "heldout": ["What was life like in {y}?", "I was born in {y}.",
                           "Room {n} is on the left."]},
}
WORDS = ("the a cat dog house run blue green quickly why how when sky water tree city car music "
         "happy sad big small red yellow table chair window door book paper light dark night "
         "day morning sleep eat drink walk talk friend family school work game play song "
         "river mountain road bread milk tea coffee hello world code python data model").split()
OTHER_REPLY = ("I am a tiny demo model that only does arithmetic. "
               "Ask me something like: What is 48 + 37?")


def _num(rng, digits):
    if digits == 1:
        return rng.randint(0, 9)
    return rng.randint(10 ** (digits - 1), 10 ** digits - 1)


# ---------------------------------------------------------------- traces

def add_trace(a, b):
    """Lines adding a + b (non-negative ints) right to left; returns (lines, sum string)."""
    A, B = str(a), str(b)
    lines = [f"{A} + {B}"]
    c = 0
    r = ""
    ea, eb = False, False
    while True:
        x = 0 if ea else int(A[-1])
        y = 0 if eb else int(B[-1])
        s = x + y + c
        na = ea or len(A) == 1
        nb = eb or len(B) == 1
        A = "0" if na else A[:-1]
        B = "0" if nb else B[:-1]
        r = str(s % 10) + r
        lines.append(f"{x} + {y} + {c} = {s}, carry {s // 10} | so far {r} | left {A} + {B}")
        c = s // 10
        ea, eb = na, nb
        if ea and eb and c == 0:
            break
    return lines, r


def sub_columns(a, b):
    """The column walk of a - b (non-negative ints, any order) until both operands are
    used up: (lines, digits so far, final borrow). A final borrow of 1 means a < b."""
    A, B = str(a), str(b)
    lines = []
    br = 0
    r = ""
    ea, eb = False, False
    while True:
        x = 0 if ea else int(A[-1])
        y = 0 if eb else int(B[-1])
        d = x - y - br
        nbr = 1 if d < 0 else 0
        d += 10 * nbr
        na = ea or len(A) == 1
        nb = eb or len(B) == 1
        A = "0" if na else A[:-1]
        B = "0" if nb else B[:-1]
        r = str(d) + r
        pre = "1" if nbr else ""
        lines.append(f"{pre}{x} - {y} - {br} = {d}, borrow {nbr} | so far {r} | left {A} - {B}")
        br = nbr
        ea, eb = na, nb
        if ea and eb:
            break
    return lines, r, br


def sub_trace(a, b):
    """Lines for a - b (non-negative ints); returns (lines, difference string)."""
    lines, r, br = sub_columns(a, b)
    lines = [f"{a} - {b}"] + lines
    if not br:
        return lines, str(int(r))
    lines.append(f"borrow 1 at the end, so {a} is less than {b}: the result is -({b} - {a}).")
    more, r = sub_trace(b, a)
    return lines + more, "-" + r


def mul1_trace(a, d):
    """Lines for a * d, d one digit; returns (lines, product string)."""
    A = str(a)
    lines = [f"{A} × {d}"]
    if d == 0 or a == 0:
        return lines, "0"
    c = 0
    r = ""
    ea = False
    while True:
        x = 0 if ea else int(A[-1])
        p = x * d + c
        na = ea or len(A) == 1
        A = "0" if na else A[:-1]
        r = str(p % 10) + r
        lines.append(f"{x} × {d} + {c} = {p}, carry {p // 10} | so far {r} | left {A}")
        c = p // 10
        ea = na
        if ea and c == 0:
            break
    return lines, r


def mul_trace(a, b):
    """a times b (non-negative) with the shorter one of one or two digits."""
    if len(str(b)) > len(str(a)):
        a, b = b, a
    lines = [f"{a} × {b}"]
    parts = []
    for j, ch in enumerate(reversed(str(b))):
        d = int(ch)
        sub, p = mul1_trace(a, d)
        lines += sub
        if j == 0:
            lines.append(f"{a} × {d} = {p}")
        else:
            p = p + "0" if p != "0" else "0"
            lines.append(f"{a} × {d}0 = {p}")
        parts.append(p)
    if len(parts) == 1:
        return lines, parts[0]
    sub, s = add_trace(int(parts[0]), int(parts[1]))
    return lines + sub, s


RESULT_WORD = {"+": "sum", "-": "difference", "×": "product"}


def _operand(v, first):
    return str(v) if v >= 0 or first else f"({v})"


def signed_trace(a, op, b):
    """Lines for a op b with signed ints (op one of + - ×); returns (lines, result)."""
    expr = f"{_operand(a, True)} {op} {_operand(b, False)}"
    x, y = abs(a), abs(b)
    if op == "×":
        neg = (a < 0) != (b < 0)
        inner, inner_op = (x, y), "×"
    elif op == "+":
        if a >= 0 and b >= 0:
            neg, inner, inner_op = False, (x, y), "+"
        elif a < 0 and b < 0:
            neg, inner, inner_op = True, (x, y), "+"
        else:
            neg, inner, inner_op = False, ((y, x) if a < 0 else (x, y)), "-"
    else:
        if a >= 0 and b >= 0:
            neg, inner, inner_op = False, (x, y), "-"
        elif a >= 0:
            neg, inner, inner_op = False, (x, y), "+"
        elif b >= 0:
            neg, inner, inner_op = True, (x, y), "+"
        else:
            neg, inner, inner_op = False, (y, x), "-"
    fn = {"+": add_trace, "-": sub_trace, "×": mul_trace}[inner_op]
    lines, r = fn(*inner)
    plain = a >= 0 and b >= 0
    if plain:
        lines.append(f"So the {RESULT_WORD[op]} is {r}.")
        return lines, r
    rewritten = f"{inner[0]} {inner_op} {inner[1]}"
    if neg:
        rewritten = f"-({rewritten})"
        r = r[1:] if r.startswith("-") else ("-" + r if r != "0" else "0")
    lines = [f"{expr} = {rewritten}"] + lines + [f"So the result is {r}."]
    return lines, r


def cmp_trace(a, b, kind):
    """kind: 'max'/'min' (which is larger/smaller) or '>'/'<' (is a larger/smaller than b?)."""
    cols, r, br = sub_columns(a, b)
    lines = [f"Compare: {a} - {b}"] + cols
    if br:
        lines.append(f"borrow 1 at the end, so {a} < {b}.")
        rel = "<"
    elif int(r) == 0:
        lines.append(f"the difference is 0, so {a} = {b}.")
        rel = "="
    else:
        lines.append(f"no borrow at the end, so {a} > {b}.")
        rel = ">"
    if kind in ("max", "min"):
        big, small = (a, b) if rel != "<" else (b, a)
        res = big if kind == "max" else small
        lines.append(f"So the {'larger' if kind == 'max' else 'smaller'} number is {res}.")
        return lines, str(res)
    yes = rel == kind
    lines.append(f"Asked: {a} {kind} {b}? {'Yes' if yes else 'No'}.")
    return lines, "yes" if yes else "no"


# ---------------------------------------------------------------- phrasing

def vary(rng, q, split):
    """The same question as people type it: case, spacing, punctuation, politeness."""
    r = rng.random()
    if r < 0.10:
        q = rng.choice(PREFIXES[split]) + q[0].lower() + q[1:]
    elif r < 0.20:
        q = q + rng.choice(SUFFIXES[split])
    r = rng.random()
    if r < 0.25:
        q = q.lower()
    elif r < 0.29:
        q = q.upper()
    if rng.random() < 0.15 and q[-1] in "?.":
        q = q[:-1]
    if rng.random() < 0.05:
        q = q + rng.choice(["  ", " ", "\t"])
    return q


def expr_text(rng, a, word, b):
    sym = word in ("+", "-", "×", "*", "x")
    tight = sym and word != "x" and rng.random() < 0.3
    sb = str(b) if b >= 0 else (f"({b})" if rng.random() < 0.7 else str(b))
    sep = "" if tight else " "
    return f"{a}{sep}{word}{sep}{sb}"


def arith_question(rng, op, a, b, split):
    """A question asking a op b (op: add/sub/mul) in a random template of the split."""
    if rng.random() < 0.65:
        e = expr_text(rng, a, rng.choice(OP_WORDS[op]), b)
        return rng.choice(EXPR_FRAMES[split]).format(E=e)
    return rng.choice(NAMED_FRAMES[(op, split)]).format(a=a, b=b)


SYM = {"add": "+", "sub": "-", "mul": "×"}


def _digits(rng, maxd):
    w = [1, 2, 3, 4, 3, 2][:maxd]
    return rng.choices(range(1, maxd + 1), weights=w)[0]


def _near(rng, a):
    """A number of the same length as a that shares a random prefix with it."""
    s = list(str(a))
    k = rng.randrange(len(s))
    for j in range(k, len(s)):
        s[j] = rng.choice("0123456789")
    if s[0] == "0" and len(s) > 1:
        s[0] = str(a)[0]
    return int("".join(s))


def operands(rng, op):
    """Signed operands for op, in the ranges the traces are trained on."""
    if op == "mul":
        da = rng.choices([1, 2, 3], weights=[1, 2, 5])[0]
        db = rng.choices([1, 2], weights=[1, 3])[0]
        a, b = _num(rng, da), _num(rng, db)
        if rng.random() < 0.3:
            a, b = b, a
        neg = 0.1
    else:
        da, db = _digits(rng, 6), _digits(rng, 6)
        a, b = _num(rng, da), _num(rng, db)
        if da == db and rng.random() < 0.25:
            b = _near(rng, a)     # long borrow chains, leading zeros in the difference
        if op == "sub" and a < b and rng.random() < 0.45:
            a, b = b, a           # about a third of subtractions stay negative
        neg = 0.15
    if rng.random() < neg:
        which = rng.choice(["a", "b", "ab"])
        a = -a if "a" in which else a
        b = -b if "b" in which else b
    return a, b


def q_arith(rng, op, split, a=None, b=None):
    if a is None:
        a, b = operands(rng, op)
    q = arith_question(rng, op, a, b, split)
    lines, r = signed_trace(a, SYM[op], b)
    return q, lines, r


def cmp_operands(rng):
    d = rng.choice([1, 2, 3, 4, 5, 6])
    a = _num(rng, d)
    r = rng.random()
    if r < 0.5:
        b = _near(rng, a)
    elif r < 0.8:
        b = _num(rng, d)
    else:
        b = _num(rng, rng.choice([1, 2, 3, 4, 5, 6]))
    if a == b and rng.random() < 0.9:
        b = a + 1
    return a, b


def q_cmp(rng, split):
    a, b = cmp_operands(rng)
    kind = rng.choice(["max", "max", "min", ">", "<"])
    q = rng.choice(CMP_FRAMES[(kind, split)]).format(a=a, b=b)
    lines, res = cmp_trace(a, b, kind)
    return q, lines, res


def q_word(rng, split):
    (n, p, o) = rng.choice(NAMES)
    m = rng.choice([x for x in NAMES if x[0] != n])[0]
    it = rng.choice(ITEMS)
    c = rng.choice(CONTAINERS)
    op = rng.choices(["add", "sub", "mul"], weights=[4, 4, 3])[0]
    if op == "add":
        a, b = _num(rng, rng.choice([1, 2, 2, 3, 3, 4])), _num(rng, rng.choice([1, 2, 2, 3, 3]))
    elif op == "sub":
        a, b = _num(rng, rng.choice([2, 2, 3, 3, 4])), _num(rng, rng.choice([1, 2, 2, 3]))
        a, b = max(a, b), min(a, b)
    else:
        a = rng.randint(2, 99 if rng.random() < 0.5 else 9)
        b = rng.randint(2, 999 if rng.random() < 0.3 else 99)
    q = rng.choice(WORD_FRAMES[(op, split)]).format(N=n, P=p, O=o, M=m, it=it, c=c, a=a, b=b)
    q = q[0].upper() + q[1:]
    lines, r = signed_trace(a, SYM[op], b)
    verb = {"add": "Add", "sub": "Subtract", "mul": "Multiply"}[op]
    return q, [f"{verb}: {a} {SYM[op]} {b}."] + lines, r


def q_other(rng, split):
    kind = rng.choices(["greet", "topic", "task", "number", "salad", "chars"],
                       weights=[3, 6, 3, 2, 2, 1])[0]
    if kind == "topic":
        q = rng.choice(OTHER["frame"][split]).format(t=rng.choice(OTHER["topic"][split]))
    elif kind == "number":
        q = rng.choice(OTHER["number"][split]).format(y=rng.randint(1900, 2030), n=rng.randint(2, 99))
    elif kind == "salad":
        q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
        q = q[0].upper() + q[1:] + rng.choice(["", "?", ".", "!"])
    elif kind == "chars":
        q = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz .,!?#@&()éß") for _ in range(rng.randint(1, 20))).strip() or "?"
    else:
        q = rng.choice(OTHER[kind][split])
    return q, ["This is not an arithmetic question."], None


def _follow_k(rng, op, prev):
    if op == "mul":
        if len(str(abs(prev))) > 3:
            return rng.randint(2, 9)
        return rng.choice([rng.randint(2, 9), rng.randint(2, 9), rng.randint(10, 99)])
    return _num(rng, _digits(rng, 4))


def follow_up(rng, prev, split):
    """A question about the previous answer `prev`: (question, lines, result)."""
    op = rng.choices(["add", "sub", "rsub", "mul"], weights=[3, 3, 1, 3])[0]
    k = _follow_k(rng, op, prev)
    q = rng.choice(FOLLOW_FRAMES[(op, split)]).format(k=k)
    a, b = (k, prev) if op == "rsub" else (prev, k)
    lines, r = signed_trace(a, SYM["sub" if op == "rsub" else op], b)
    return q, [f"Previous answer: {prev}."] + lines, r


def answer_text(res):
    return OTHER_REPLY if res is None else f"The answer is {res}."


def _first_turn(rng, split):
    """An arithmetic question whose answer a follow-up can build on: (q, lines, result)."""
    while True:
        cat = rng.choice(["add", "sub", "mul", "word"])
        q, lines, r = q_word(rng, split) if cat == "word" else q_arith(rng, cat, split)
        if len(r.lstrip("-")) <= 6:
            return vary(rng, q, split), lines, r


def generate(rng, cat, split="train"):
    """-> (category, history [(q, answer sentence)], question, reasoning, answer sentence)."""
    hist = []
    if cat == "follow":
        q, _, r = _first_turn(rng, split)
        hist.append((q, answer_text(r)))
        if rng.random() < 0.3:
            q, _, r = follow_up(rng, int(r), split)
            hist.append((vary(rng, q, split), answer_text(r)))
        q, lines, r = follow_up(rng, int(r), split)
    elif cat == "word":
        q, lines, r = q_word(rng, split)
    elif cat == "cmp":
        q, lines, r = q_cmp(rng, split)
    elif cat == "other":
        q, lines, r = q_other(rng, split)
    else:
        q, lines, r = q_arith(rng, cat, split)
    return cat, hist, vary(rng, q, split), "\n".join(lines), answer_text(r)


MIX = {"add": 0.15, "sub": 0.22, "mul": 0.18, "cmp": 0.13, "word": 0.12, "follow": 0.12,
       "other": 0.08}
# Share of examples that carry unrelated earlier turns as context only.
CONTEXT = 0.08


def example(rng, cat=None, split="train"):
    """A training example; with probability CONTEXT it follows unrelated earlier turns."""
    if cat is None:
        cat = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    ex = generate(rng, cat, split)
    if not ex[1] and rng.random() < CONTEXT:
        before = []
        for _ in range(rng.choice([1, 1, 2])):
            _, h, q, _, a = generate(rng, rng.choice(["add", "sub", "mul", "cmp", "word", "other"]), split)
            before += h + [(q, a)]
        ex = (ex[0], before, ex[2], ex[3], ex[4])
    return ex


ANSWER_RE = re.compile(r"The answer is (-?[0-9]+|yes|no)\.")


def parse_answer(text):
    """What the answer after the reasoning says: a number, yes/no, "other" for the fixed
    reply to non-arithmetic questions, or None."""
    tail = text.split("</think>")[-1]
    if OTHER_REPLY.split(".")[0] in tail:
        return "other"
    m = ANSWER_RE.search(tail)
    return m.group(1) if m else None


def eval_set(cat, n, seed, split="heldout"):
    """n problems of a category: dicts with 'turns' (the questions, asked one after the
    other in one conversation) and 'wants' (the expected answer after each turn)."""
    rng = random.Random(f"{seed}/{cat}/{split}")
    out = []
    for _ in range(n):
        if cat == "follow":
            q1, _, r1 = _first_turn(rng, split)
            q2, _, r2 = follow_up(rng, int(r1), split)
            out.append({"turns": [q1, vary(rng, q2, split)], "wants": [r1, r2]})
            continue
        _, hist, q, _, ans = generate(rng, cat, split)
        out.append({"turns": [q], "wants": [parse_answer(ans)]})
    return out


if __name__ == "__main__":
    import sys
    r = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    split = sys.argv[2] if len(sys.argv) > 2 else "train"
    for c in CATEGORIES:
        _, hist, q, reas, ans = generate(r, c, split)
        for hq, ha in hist:
            print(f"== {c} (history)\nQ: {hq}\nA: {ha}")
        print(f"== {c}\nQ: {q}\n<think>\n{reas}\n</think>\n\n{ans}\n")
