from novaos.cli import main

raise SystemExit(main())
