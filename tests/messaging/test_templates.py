import pytest

from vafa.messaging.templates import measure, render, render_html, unknown_variables


@pytest.mark.parametrize(("text", "encoding", "parts"), [
    ("a" * 160, "gsm7", 1), ("a" * 161, "gsm7", 2), ("a" * 306, "gsm7", 2), ("a" * 307, "gsm7", 3),
    ("س" * 70, "ucs2", 1), ("س" * 71, "ucs2", 2), ("س" * 134, "ucs2", 2), ("س" * 135, "ucs2", 3),
    ("", "gsm7", 0), ("a" * 159 + "س", "ucs2", 3),
])
def test_parts_at_the_boundaries(text, encoding, parts):
    size = measure(text)
    assert (size.encoding, size.parts) == (encoding, parts)


def test_gsm7_extension_characters_count_twice():
    assert measure("€" * 80).characters == 160 and measure("€" * 80).parts == 1
    assert measure("€" * 81).parts == 2


def test_unknown_variables_are_named():
    assert unknown_variables("{first_name} {amount} {balance} {date} {tier} {code} {link} {business}") == []
    assert unknown_variables("سلام {name} و {points}") == ["name", "points"]
    assert unknown_variables("{first_name!r}") == ["first_name"]
    assert unknown_variables("an open { brace") == ["{"]


def test_a_line_whose_variables_are_all_empty_is_left_out():
    text = "موجودی: {balance}\nانقضا: {date}\n{business}"
    assert render(text, {"balance": "۱۲۰ امتیاز", "date": "", "business": "کافه"}) == "موجودی: ۱۲۰ امتیاز\nکافه"


def test_email_html_is_escaped_and_right_to_left():
    html = render_html("<script>x</script>\nسلام", "fa")
    assert '<html lang="fa" dir="rtl">' in html and "&lt;script&gt;x&lt;/script&gt;<br>" in html
    assert "<script>" not in html and 'dir="ltr"' in render_html("hi", "en")
