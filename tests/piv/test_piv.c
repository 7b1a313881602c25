/* Placeholder until the PIV unit tests land. */
int main(void)
{
	return 77;
}
