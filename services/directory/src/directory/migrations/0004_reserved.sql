-- Reserved: number 0004 belongs to verified domains, which replaces this file.
SELECT 1;
