"""What students run: ``check`` (the public tests with feedback), ``submit`` (a zip of the graded
files) and the pytest plugin behind ``pytest assignments/aN_topic``. Ships in the release."""
