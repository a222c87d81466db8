-- Which licence reservations the operator allows an account: 'none', 'specific' or 'universal'.
ALTER TABLE accounts ADD COLUMN reservation TEXT NOT NULL DEFAULT 'none';
