"""Luhn check digits for card numbers: a mistyped digit or swapped pair is caught at the till."""


def check_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid(number: str) -> bool:
    return number.isdigit() and len(number) >= 2 and check_digit(number[:-1]) == number[-1]
