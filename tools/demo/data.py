"""Synthetic arithmetic problems with a step-by-step reasoning trace, from a seed.

Every example is (task, question, reasoning, answer). The reasoning is written so that
each token needs only local look-ups for a small transformer:
  * column arithmetic goes right to left, one line per column; each line names its
    digits, the carry/borrow, the digits found "so far" (the new digit prepended to the
    previous line's string, i.e. a contiguous copy) and what is "left" of each operand
    (the previous line's operand minus its last digit), so the next column's digits are
    always the last digit before " + " and the last digit of the previous line;
  * multiplication does one such pass per digit of the multiplier, then adds the
    partial products with the addition pass;
  * comparison counts digits, then walks the digits from the left.
The answer is always "The answer is N." (or a short fixed sentence for non-arithmetic
input), so evaluation can parse it.

Invariants: the same (seed, task) gives the same stream; numbers never have leading
zeros; subtraction traces always subtract the smaller from the larger.
"""
import random
import re

TASKS = ["add", "sub", "mul", "cmp", "word", "other"]

NAMES = ["Anna", "Ben", "Carla", "David", "Emma", "Farid", "Grace", "Hugo", "Iris", "Jonas",
         "Kim", "Leo", "Maya", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara",
         "Uma", "Victor", "Wen", "Yusuf", "Zoe"]
ITEMS = ["apples", "books", "marbles", "stickers", "coins", "pencils", "cards", "shells",
         "stamps", "cookies", "oranges", "balloons", "flowers", "toys", "candies", "eggs",
         "buttons", "beads", "nuts", "shirts"]
CONTAINERS = ["boxes", "bags", "baskets", "packs", "jars", "crates", "trays", "rows"]


def _num(rng, digits):
    if digits == 1:
        return rng.randint(0, 9)
    return rng.randint(10 ** (digits - 1), 10 ** digits - 1)


def _left(s):
    return s[:-1] if len(s) > 1 else "0"


# ---------------------------------------------------------------- traces

def add_trace(a, b):
    """Lines adding a + b (non-negative ints) right to left; returns (lines, sum string)."""
    A, B = str(a), str(b)
    lines = [f"{A} + {B}"]
    c = 0
    r = ""
    ea, eb = False, False          # operand exhausted (shown as 0)
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


def sub_trace(a, b):
    """Lines for a - b with a >= b >= 0; returns (lines, difference string)."""
    assert a >= b
    A, B = str(a), str(b)
    lines = [f"{A} - {B}"]
    br = 0
    r = ""
    eb = False                     # subtrahend exhausted (shown as 0)
    while True:
        x = int(A[-1])
        y = 0 if eb else int(B[-1])
        d = x - y - br
        nbr = 1 if d < 0 else 0
        d += 10 * nbr
        na = len(A) == 1
        nb = eb or len(B) == 1
        A = "0" if na else A[:-1]
        B = "0" if nb else B[:-1]
        r = str(d) + r
        pre = "1" if nbr else ""
        lines.append(f"{pre}{x} - {y} - {br} = {d}, borrow {nbr} | so far {r} | left {A} - {B}")
        br = nbr
        eb = nb
        if na:
            break
    assert br == 0
    return lines, str(int(r))


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
    """a times b with b of one or two digits (the caller puts the longer number first)."""
    lines = [f"{a} × {b}"]
    B = str(b)
    parts = []
    for j, ch in enumerate(reversed(B)):
        d = int(ch)
        sub, p = mul1_trace(a, d)
        lines += sub
        if j == 0:
            lines.append(f"{a} × {d} = {p}")
            parts.append(p)
        else:
            p = p + "0" if p != "0" else "0"
            lines.append(f"{a} × {d}0 = {p}")
            parts.append(p)
    if len(parts) == 1:
        return lines, parts[0]
    sub, s = add_trace(int(parts[0]), int(parts[1]))
    lines += sub
    return lines, s


def cmp_trace(a, b, larger):
    A, B = str(a), str(b)
    word = "larger" if larger else "smaller"
    lines = [f"{A} has {len(A)} digits, {B} has {len(B)} digits."]
    if len(A) != len(B):
        big = A if len(A) > len(B) else B
        lines.append(f"{big} has more digits, so it is larger.")
    else:
        x, y = A, B
        while True:
            if x[0] == y[0]:
                lines.append(f"{x[0]} = {y[0]} | left {x[1:]} and {y[1:]}")
                x, y = x[1:], y[1:]
                continue
            op = ">" if x[0] > y[0] else "<"
            lines.append(f"{x[0]} {op} {y[0]}, so {A if op == '>' else B} is larger.")
            break
    big, small = (A, B) if a > b else (B, A)
    res = big if larger else small
    if not larger:
        lines.append(f"So {small} is smaller.")
    return lines, res, word


# ---------------------------------------------------------------- questions

def _digits_pair(rng, maxd):
    """Operand lengths, biased to the longer cases (they need the most practice)."""
    w = [1, 2, 3, 4, 3, 2][:maxd]
    da = rng.choices(range(1, maxd + 1), weights=w)[0]
    db = rng.choices(range(1, maxd + 1), weights=w)[0]
    return da, db


def q_add(rng, da=None, db=None):
    if da is None:
        da, db = _digits_pair(rng, 6)
    a, b = _num(rng, da), _num(rng, db)
    forms = [f"What is {a} + {b}?", f"What is {a} plus {b}?", f"Compute {a} + {b}.",
             f"{a} + {b} = ?", f"Add {a} and {b}.", f"What is the sum of {a} and {b}?",
             f"Calculate {a} + {b}", f"{a}+{b}", f"How much is {a} plus {b}?",
             f"Please add {a} to {b}."]
    q = rng.choice(forms)
    lines, s = add_trace(a, b)
    lines.append(f"So the sum is {s}.")
    return q, lines, s


def _near(rng, a):
    """A number of the same length as a that shares a random prefix with it."""
    s = list(str(a))
    k = rng.randrange(len(s))
    for j in range(k, len(s)):
        s[j] = rng.choice("0123456789")
    if s[0] == "0" and len(s) > 1:
        s[0] = str(a)[0]
    return int("".join(s))


def q_sub(rng, da=None, db=None, allow_neg=True, near=None):
    if da is None:
        da, db = _digits_pair(rng, 6)
    a, b = _num(rng, da), _num(rng, db)
    near = SUB_NEAR if near is None else near
    if near and da == db and rng.random() < near:
        # long borrow chains and leading zeros in the difference need practice
        b = _near(rng, a)
    if a < b and not (allow_neg and rng.random() < 0.2):
        a, b = b, a
    forms = [f"What is {a} - {b}?", f"What is {a} minus {b}?", f"Compute {a} - {b}.",
             f"{a} - {b} = ?", f"Subtract {b} from {a}.", f"Calculate {a} - {b}",
             f"{a}-{b}", f"How much is {a} minus {b}?",
             f"What is the difference {a} - {b}?", f"Take {b} away from {a}."]
    q = rng.choice(forms)
    if a >= b:
        lines, s = sub_trace(a, b)
        lines.append(f"So the difference is {s}.")
    else:
        lines, s = sub_trace(b, a)
        s = "-" + s
        lines = [f"{a} is less than {b}, so the result is negative: -({b} - {a})."] + lines
        lines.append(f"So the difference is {s}.")
    return q, lines, s


def q_mul(rng, da=None, db=None):
    if da is None:
        da = rng.choices([1, 2, 3], weights=[1, 2, 5])[0]
        db = rng.choices([1, 2], weights=[1, 3])[0]
    a, b = _num(rng, da), _num(rng, db)
    if rng.random() < 0.3:
        a, b = b, a
    sym = rng.choice(["×", "*", "x", "times"])
    forms = [f"What is {a} {sym} {b}?", f"Compute {a} {sym} {b}.", f"Multiply {a} by {b}.",
             f"What is the product of {a} and {b}?", f"{a} {sym} {b} = ?",
             f"Calculate {a} {sym} {b}", f"How much is {a} times {b}?"]
    q = rng.choice(forms)
    x, y = (a, b) if len(str(a)) >= len(str(b)) else (b, a)
    lines, s = mul_trace(x, y)
    lines.append(f"So the product is {s}.")
    return q, lines, s


def q_cmp(rng):
    d = rng.choice([1, 2, 3, 4, 5, 6])
    a = _num(rng, d)
    r = rng.random()
    if r < 0.5:
        # same length, sharing a prefix: the interesting case
        s = list(str(a))
        k = rng.randrange(len(s))
        choices = [c for c in "0123456789" if c != s[k] and not (k == 0 and c == "0" and len(s) > 1)]
        if not choices:
            s[k] = "1" if s[k] != "1" else "2"
        else:
            s[k] = rng.choice(choices)
        for j in range(k + 1, len(s)):
            s[j] = rng.choice("0123456789")
        b = int("".join(s))
    elif r < 0.8:
        b = _num(rng, d)
    else:
        b = _num(rng, rng.choice([1, 2, 3, 4, 5, 6]))
    if a == b:
        b = a + 1
    larger = rng.random() < 0.6
    if larger:
        forms = [f"Which is larger, {a} or {b}?", f"Which number is bigger: {a} or {b}?",
                 f"Which is greater, {a} or {b}?", f"What is the larger of {a} and {b}?",
                 f"Which is more, {a} or {b}?"]
    else:
        forms = [f"Which is smaller, {a} or {b}?", f"Which number is less: {a} or {b}?",
                 f"What is the smaller of {a} and {b}?", f"Which is lower, {a} or {b}?"]
    q = rng.choice(forms)
    lines, res, _ = cmp_trace(a, b, larger)
    return q, lines, str(res)


def _word_add(rng, n, it, a, b):
    forms = [f"{n} has {a} {it} and buys {b} more. How many {it} does {n} have now?",
             f"{n} has {a} {it}. A friend gives {n} {b} more. How many {it} does {n} have?",
             f"There are {a} {it} in a box and {b} {it} on the table. How many {it} are there in all?",
             f"{n} collected {a} {it} on Monday and {b} {it} on Tuesday. How many {it} did {n} collect in total?",
             f"{n} had {a} {it} and found {b} more. How many {it} does {n} have now?",
             f"A shop sold {a} {it} in the morning and {b} {it} in the afternoon. How many {it} did it sell?"]
    return rng.choice(forms), "+"


def _word_sub(rng, n, it, a, b):
    forms = [f"{n} has {a} {it} and gives away {b}. How many {it} are left?",
             f"{n} had {a} {it} and lost {b} of them. How many {it} does {n} have now?",
             f"There were {a} {it} in a basket. {n} took {b}. How many {it} are still in the basket?",
             f"{n} has {a} {it} and sells {b}. How many {it} remain?",
             f"A shop had {a} {it} and sold {b}. How many {it} are left?",
             f"{n} has {a} {it}. {n} uses {b} of them. How many {it} are left?"]
    return rng.choice(forms), "-"


def _word_mul(rng, n, it, a, b, cont):
    forms = [f"There are {a} {cont} with {b} {it} in each. How many {it} are there in total?",
             f"{n} buys {a} {cont} of {it}. Each holds {b} {it}. How many {it} does {n} have?",
             f"Each of the {a} {cont} has {b} {it}. How many {it} are there altogether?",
             f"{n} packs {b} {it} into each of {a} {cont}. How many {it} does {n} pack?"]
    return rng.choice(forms), "×"


def q_word(rng):
    n = rng.choice(NAMES)
    it = rng.choice(ITEMS)
    kind = rng.choices(["+", "-", "×"], weights=[4, 4, 3])[0]
    if kind == "+":
        a, b = _num(rng, rng.choice([1, 2, 2, 3, 3, 4])), _num(rng, rng.choice([1, 2, 2, 3, 3]))
        q, _ = _word_add(rng, n, it, a, b)
        lines, s = add_trace(a, b)
        lines = [f"Add: {a} + {b}."] + lines + [f"So the sum is {s}."]
    elif kind == "-":
        a, b = _num(rng, rng.choice([2, 2, 3, 3, 4])), _num(rng, rng.choice([1, 2, 2, 3]))
        if a < b:
            a, b = b, a
        q, _ = _word_sub(rng, n, it, a, b)
        lines, s = sub_trace(a, b)
        lines = [f"Subtract: {a} - {b}."] + lines + [f"So the difference is {s}."]
    else:
        a = rng.randint(2, 99 if rng.random() < 0.5 else 9)
        b = rng.randint(2, 999 if rng.random() < 0.3 else 99)
        q, _ = _word_mul(rng, n, it, a, b, rng.choice(CONTAINERS))
        x, y = (a, b) if len(str(a)) >= len(str(b)) else (b, a)
        lines, s = mul_trace(x, y)
        lines = [f"Multiply: {a} × {b}."] + lines + [f"So the product is {s}."]
    return q, lines, s


OTHER_Q = ["Hello!", "Hi there", "Who are you?", "What can you do?", "Tell me a joke.",
           "What is the capital of France?", "How are you today?", "Write a poem.",
           "What's the weather like?", "Thanks!", "Can you help me?", "What is love?",
           "Explain quantum physics.", "Good morning", "Translate 'cat' into German."]


def q_other(rng):
    q = rng.choice(OTHER_Q)
    if rng.random() < 0.3:
        q = q.lower()
    lines = ["This is not an arithmetic question."]
    ans = ("I am a tiny demo model that only does arithmetic. "
           "Ask me something like: What is 48 + 37?")
    return q, lines, ans


GEN = {"add": q_add, "sub": q_sub, "mul": q_mul, "cmp": q_cmp, "word": q_word, "other": q_other}
MIX = {"add": 0.22, "sub": 0.22, "mul": 0.30, "cmp": 0.08, "word": 0.16, "other": 0.02}
# Fraction of equal-length subtractions whose operands share a prefix (0 in the base
# run; train.py --near raises it for the second phase).
SUB_NEAR = 0.0


def answer_text(task, ans):
    return ans if task == "other" else f"The answer is {ans}."


def example(rng, task=None):
    """-> (task, question, reasoning, answer sentence)."""
    if task is None:
        task = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    q, lines, ans = GEN[task](rng)
    return task, q, "\n".join(lines), answer_text(task, ans)


ANSWER_RE = re.compile(r"The answer is (-?[0-9]+)\.")


def parse_answer(text):
    """The number of the fixed answer sentence after the reasoning, or None."""
    m = ANSWER_RE.search(text.split("</think>")[-1])
    return m.group(1) if m else None


def eval_set(task, n, seed):
    """Held-out problems for a named evaluation task: (question, expected answer) pairs."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if task == "add4":
            q, _, s = q_add(rng, 4, 4)
        elif task == "sub4":
            q, _, s = q_sub(rng, 4, 4, allow_neg=False, near=0)
        elif task == "add6":
            q, _, s = q_add(rng, 6, 6)
        elif task == "sub6":
            q, _, s = q_sub(rng, 6, 6, allow_neg=False, near=0)
        elif task == "mul32":
            q, _, s = q_mul(rng, 3, 2)
        elif task == "cmp":
            q, _, s = q_cmp(rng)
        elif task == "word":
            q, _, s = q_word(rng)
        elif task == "subneg":
            a, b = _num(rng, 4), _num(rng, 4)
            while a >= b:
                a, b = _num(rng, 4), _num(rng, 4)
            q = f"What is {a} - {b}?"
            s = str(a - b)
        else:
            raise ValueError(task)
        out.append((q, s))
    return out


if __name__ == "__main__":
    import sys
    r = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    for t in TASKS:
        _, q, reas, ans = example(r, t)
        print(f"== {t}\nQ: {q}\n<think>\n{reas}\n</think>\n\n{ans}\n")
