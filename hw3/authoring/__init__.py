"""What instructors make from an assignment's catalogue: stubs and homework text, the notebook,
the answer key (`hw3 key`), the student release and Gradescope's autograder."""
