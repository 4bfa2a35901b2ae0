"""X12 005010: tokenizer, 837P/837I writers and readers, 835/999/277CA readers. Pure text <-> records."""
