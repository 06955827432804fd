"""ThreadPoolExecutor swallows exceptions: submit() without ever reading the future."""
from concurrent.futures import ThreadPoolExecutor


def send_invoice(customer):
    if customer == "globex":
        raise ConnectionError(f"mail server refused the invoice for {customer}")
    return customer


with ThreadPoolExecutor() as executor:
    for customer in ["acme", "globex", "initech"]:
        executor.submit(send_invoice, customer)  # the bug: the futures are dropped
print("all invoices sent")
