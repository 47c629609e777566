"""The test suite; its tree mirrors the source tree (tests/app/core/ tests app/core/)."""
