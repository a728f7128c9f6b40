"""What a run leaves for people and programs: the terminal (``terminal``, Rich), the JSON
report (``report``, a contract CI jobs parse) and JUnit (``junit``). Each reads the
typed records (``pdee.records``) and nothing else of a run."""
